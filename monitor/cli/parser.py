"""The parser of every ``monitor`` command: a mistake is one line, and a misspelt option is named first.

argparse checks a command's required options before it looks at the ones it
did not recognise, so ``monitor report --perod 2024-Q3`` used to say that
``--period`` is required. ``CommandParser`` looks at the command's own words
first: an option it does not know is the error, named with the closest one
it does know (``difflib``). Every parser error is one line on stderr and exit
status 2 (``ExitCode.USAGE``), never a usage block or a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Collection, Iterable, Sequence
from typing import NoReturn

__all__ = ["CommandParser", "closest_option", "unknown_option"]

_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")  # a value (``--tick-interval -1``), not an option


def _knows(word: str, options: Collection[str]) -> bool:
    """Whether ``word`` names one of ``options``, as argparse reads it (``--out=x``; ``--form``, a prefix)."""
    name = word.split("=", 1)[0]
    if name in options:
        return True
    # A prefix argparse accepts, or one it will itself call ambiguous: either way not a misspelling.
    return name.startswith("--") and any(option.startswith(name) for option in options)


def unknown_option(words: Sequence[str], options: Collection[str], commands: Collection[str] = ()) -> str | None:
    """The first option among a command's words that the command does not have, or ``None``.

    Args:
        words: What follows the command's name on the command line.
        options: Its option strings (``--period``, ``-h``…).
        commands: Its subcommands' names: their words are theirs to judge, so the scan stops at the first.

    Returns:
        The option as written, without a ``=value``.
    """
    for word in words:
        if word == "--" or word in commands:
            return None
        if not word.startswith("-") or word == "-" or _NEGATIVE_NUMBER.match(word):
            continue
        if not _knows(word, options):
            return word.split("=", 1)[0]
    return None


def closest_option(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` most likely meant (``--perod`` → ``--period``), or ``None`` if none is close."""
    found = difflib.get_close_matches(word, [o for o in options if o.startswith("--")], n=1, cutoff=0.75)
    return found[0] if found else None


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")


def _suggestion(message: str) -> str:
    """``; did you mean 'report'?`` for a mistyped command or choice, else nothing."""
    found = _INVALID_CHOICE.search(message)
    if found is None:
        return ""
    choices = re.findall(r"'([^']*)'", found.group(2))
    closest = difflib.get_close_matches(found.group(1), choices, n=1, cutoff=0.6)
    return f"; did you mean '{closest[0]}'?" if closest else ""


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, an unrecognised option before anything else.

    Subcommands get the same class (argparse gives a subparser its parent's class).
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """argparse's, after refusing an option this command does not have (its subcommands judge their own)."""
        words = list(sys.argv[1:] if args is None else args)
        option = unknown_option(words, self._option_string_actions, self._command_names())
        if option is not None:
            self.error(self._unknown(option))
        return super().parse_known_args(words, namespace)

    def error(self, message: str) -> NoReturn:
        """Say what was wrong in one line, with where to read more, and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}{_suggestion(message)} (see {self.prog} --help)\n")

    def _unknown(self, option: str) -> str:
        closest = closest_option(option, self._option_string_actions)
        return f"unrecognized option {option}" + (f"; did you mean {closest}?" if closest else "")

    def _command_names(self) -> set[str]:
        return {
            name
            for action in self._actions
            if isinstance(action, argparse._SubParsersAction)
            for name in action.choices
        }
