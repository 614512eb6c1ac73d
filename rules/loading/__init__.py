"""Reading, checking and publishing rule packs.

``loader``: rule files, rosters and packs read from YAML and checked, each
problem at its file and line (``BUNDLED_PACK``: the pack that ships);
``sources``: reading them safely (bounded size, nesting and aliases, paths
kept inside the pack); ``suggest``: "did you mean" hints;
``rule_test_format``: the rule test file format; ``schema``: JSON Schemas of
the files, generated from the models; ``published``: a pack as the rules
topic carries it; ``diff``: what changes from one pack to another.
"""

from rules.loading.diff import PackDiff, pack_diff, successive_diffs
from rules.loading.loader import BUNDLED_PACK, Parsed, load_pack, load_rule_file, parse_yaml, rule_files_in, validate
from rules.loading.published import MAX_PACK_BYTES, PackTimeline, PublishedPack, content_hash, pack_files
from rules.loading.rule_test_format import Expectation, RuleTestCase, RuleTestFile, TimelineEvent
from rules.loading.schema import render_rule_schemas
from rules.loading.sources import confined

__all__ = [
    "BUNDLED_PACK",
    "MAX_PACK_BYTES",
    "Expectation",
    "PackDiff",
    "PackTimeline",
    "Parsed",
    "PublishedPack",
    "RuleTestCase",
    "RuleTestFile",
    "TimelineEvent",
    "confined",
    "content_hash",
    "load_pack",
    "load_rule_file",
    "pack_diff",
    "pack_files",
    "parse_yaml",
    "render_rule_schemas",
    "rule_files_in",
    "successive_diffs",
    "validate",
]
