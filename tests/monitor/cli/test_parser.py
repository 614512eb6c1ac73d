"""A misspelt option is named first, with the one meant, in one line and exit status 2, for every command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.cli.parser import closest_option, unknown_option

REPORT_OPTIONS = ("-h", "--help", "--period", "--packs", "--unit", "--format", "--out", "--events", "--rules")


@pytest.mark.parametrize(
    ("words", "found"),
    [
        (["--perod", "2024-Q3"], "--perod"),
        (["--period", "2024-Q3", "--perod=2024"], "--perod"),
        (["--form", "csv", "--period", "2024-Q3"], None),  # a prefix argparse accepts
        (["--p", "2024"], None),  # an ambiguous prefix: argparse says so itself
        (["--period=2024-Q3", "--unit", "VN-22"], None),
        (["--tick-interval", "-1"], None),  # a negative number is a value
        (["-x"], "-x"),
        (["--", "--perod"], None),  # after --, words are positional
    ],
)
def test_the_first_option_a_command_does_not_have(words: list[str], found: str | None) -> None:
    assert unknown_option(words, (*REPORT_OPTIONS, "--tick-interval")) == found


def test_a_subcommand_s_words_are_left_to_it() -> None:
    assert unknown_option(["-v", "report", "--perod"], ("-v", "--version", "-h"), {"report", "replay"}) is None
    assert unknown_option(["--perod", "report"], ("-v", "--version", "-h"), {"report", "replay"}) == "--perod"


@pytest.mark.parametrize(
    ("word", "meant"), [("--perod", "--period"), ("--evnets", "--events"), ("--fromat", "--format"), ("--xyz", None)]
)
def test_the_closest_option(word: str, meant: str | None) -> None:
    assert closest_option(word, REPORT_OPTIONS) == meant


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["report", "--perod", "2024-Q3"],  # not "--period is required": the misspelling is the mistake
            "monitor report: error: unrecognized option --perod; did you mean --period? (see monitor report --help)",
        ),
        (
            ["replay", "events.jsonl", "--untl", "2024-08-01"],
            "monitor replay: error: unrecognized option --untl; did you mean --until? (see monitor replay --help)",
        ),
        (
            ["rules", "test", "--formt", "json"],
            "monitor rules test: error: unrecognized option --formt; did you mean --format? "
            "(see monitor rules test --help)",
        ),
    ],
    ids=["report", "replay", "rules-test"],
)
def test_a_misspelt_option_is_one_line_naming_it_and_the_one_meant(args: list[str], line: str) -> None:
    done = _monitor(*args)
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (2, "", [line])


def test_any_other_usage_mistake_is_one_line_too() -> None:
    done = _monitor("report")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "monitor report: error: the following arguments are required: --period (see monitor report --help)"
    ]


@pytest.mark.parametrize(
    ("args", "meant"), [(["reprot"], "report"), (["rules", "aply", "x"], "apply"), (["zzz"], None)]
)
def test_a_misspelt_command_names_the_one_meant(args: list[str], meant: str | None) -> None:
    done = _monitor(*args)
    (line,) = done.stderr.splitlines()
    assert done.returncode == 2 and "invalid choice" in line
    assert (f"; did you mean '{meant}'?" in line) if meant else "did you mean" not in line
