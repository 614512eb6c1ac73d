from __future__ import annotations

from pathlib import Path

import pytest

from rules.exceptions import RuleFileError
from rules.loading import BUNDLED_PACK, load_pack, load_rule_file


def _write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


THREE_MISTAKES = """\
groups:
  - name: de-an-06
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: task-overdue
        kind: deadline
        due_from: deadline
        warn_before: [sevendays]
      - id: online-low
        kind: threshold
        indicator: online_dossier_ratio
        below: half
      - id: plan
        kind: deadline
        due: "2024-07-20T00:00:00+07:00"
        summary: "{unit_name} {__class__}"
"""


def test_three_mistakes_are_all_reported_with_line_rule_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, THREE_MISTAKES)
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    found = sorted((p.line, p.rule_id, p.field.split(".")[-1]) for p in caught.value.problems)
    assert found == [(8, "task-overdue", "0"), (12, "online-low", "below"), (16, "plan", "summary")]
    text = str(caught.value)
    assert f"{path}:8: rule 'task-overdue'" in text
    assert "not a duration" in text
    assert "'{__class__}' is not allowed" in text


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("groups:\n  - name: g\n    rules:\n      - id: a\n        kind: nonsense\n", 5, "unknown kind 'nonsense'"),
        ("groups:\n  - name: g\n    timezone: Mars/Olympus\n", 3, "unknown time zone"),
        ("groups: [\n", 2, "not valid YAML"),
        ("groups:\n  - name: g\n    name: h\n", 3, "duplicate key 'name'"),
        ("", None, "empty"),
        (
            "groups:\n  - name: g\n    rules:\n      - id: a\n        kind: deadline\n        surprise: 1\n",
            6,
            "unknown field 'surprise'",
        ),
        ("groups: !!python/object:os.system x\n", 1, "the tag !!python/object:os.system is not allowed"),
        ("groups:\n  - name: !!int g\n", 2, "'g' is not a valid !!int"),
        ("groups:\n  - name: g\n    ? [a]\n    : b\n", 3, "a key must be a plain value"),
        ("groups:\n  - <<: {name: g}\n", 2, "merge keys ('<<') are not supported"),
    ],
)
def test_single_mistakes(tmp_path: Path, text: str, line: int | None, message: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(_write(tmp_path, text))
    problems = caught.value.problems
    assert any(p.line == line and message in p.message for p in problems), problems


def test_duplicate_rule_ids_across_files_are_an_error(tmp_path: Path) -> None:
    rule = "groups:\n  - name: g\n    rules:\n      - {id: same, kind: threshold, indicator: x, below: 1}\n"
    _write(tmp_path, rule, "a.yaml")
    _write(tmp_path, rule, "b.yaml")
    with pytest.raises(RuleFileError, match="rule id 'same' is already used"):
        load_pack([tmp_path])


def test_bundled_pack_loads() -> None:
    pack = load_pack([BUNDLED_PACK])
    ids = {r.rule.id for r in pack.rules}
    assert {"task-overdue", "online-dossier-ratio-low"} <= ids
    assert all(r.tz.key == "Asia/Ho_Chi_Minh" for r in pack.rules)


def test_rule_version_changes_with_the_rule(tmp_path: Path) -> None:
    base = "groups:\n  - name: g\n    rules:\n      - {id: r, kind: threshold, indicator: x, below: %s}\n"
    v1 = load_pack([_write(tmp_path, base % "0.5", "one.yaml")]).rules[0].version
    v1_again = load_pack([_write(tmp_path, base % "0.5", "one.yaml")]).rules[0].version
    v2 = load_pack([_write(tmp_path, base % "0.6", "one.yaml")]).rules[0].version
    assert v1 == v1_again != v2


def test_unknown_roster_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = (
        "groups:\n  - name: g\n    rules:\n      - id: plan\n        kind: deadline\n"
        '        due: "2024-07-20T00:00:00+07:00"\n        roster: units/nowhere.yaml\n'
    )
    with pytest.raises(RuleFileError) as caught:
        load_pack([_write(tmp_path, text)])
    (problem,) = caught.value.problems
    assert (problem.line, problem.rule_id, problem.field) == (7, "plan", "roster")
    assert "units/nowhere.yaml" in problem.message


def test_a_bad_roster_is_reported_with_its_line(tmp_path: Path) -> None:
    _write(
        tmp_path, "roster: r\nunits:\n  - {id: VN-22, name: Nghệ An}\n  - {id: VN-22, name: Nghệ An}\n", "units.yaml"
    )
    _write(tmp_path, "roster: s\nunits:\n  - {id: VN-02}\n", "other.yaml")
    with pytest.raises(RuleFileError) as caught:
        load_pack([tmp_path])
    messages = sorted((p.path.name, p.line, p.message) for p in caught.value.problems)
    assert messages[0][0] == "other.yaml" and messages[0][1] == 3 and "name" in str(caught.value)
    assert any("listed twice" in m for _, _, m in messages)


def test_bundled_rosters() -> None:
    pack = load_pack([BUNDLED_PACK])
    provinces = {u.id for u in pack.units.units.values() if u.level == "province"}
    assert len(provinces) == 63
    assert pack.unit_names["VN-22"] == "Nghệ An" and pack.unit_names["VN-40"] == "Bình Thuận"
    assert pack.unit_names["VN-SG"] == "Hồ Chí Minh"
    plan = pack.by_id("inspection-plan-2024")
    assert plan is not None and plan.roster is not None and len(plan.roster) == 63 + 23
    units = BUNDLED_PACK / "units"
    merged = load_pack([units / "vietnam-provinces.yaml", units / "provinces-34.yaml", BUNDLED_PACK / "de-an-06.yaml"])
    assert merged.unit_names["VN-35"] == "Lâm Đồng"
    # Without the registry, two rosters that name a unit differently are a mistake, not a choice.
    with pytest.raises(RuleFileError, match="unit 'VN-26' is 'Huế' in the unit registry, not 'Thừa Thiên Huế'"):
        load_pack([units / "provinces-34.yaml", BUNDLED_PACK / "de-an-06.yaml"])


def test_the_pack_keeps_the_rosters_its_rules_name_in_order() -> None:
    pack = load_pack([BUNDLED_PACK])
    # provinces-34 is in the directory, but no rule names it; the 2024 plan names provinces-63 and ministries,
    # the staleness rule every province in force (a roster that selects from the registry).
    assert [r.roster for r in pack.rosters] == ["provinces-63", "ministries", "provinces"]
    provinces, ministries, in_force = pack.rosters
    assert len(provinces.units) == 63 and provinces.units[0].name == "An Giang"
    assert ministries.units[0].id == "BCA"
    assert in_force.select is not None and len(pack.members(in_force)) == 63  # every province that ever was
    assert set().union(*(pack.members(r) for r in pack.rosters)) == set(pack.rostered_units)


def test_rules_check_command_reports_every_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    path = _write(tmp_path, THREE_MISTAKES)
    assert main(["rules", "check", str(path)]) == 1
    err = capsys.readouterr().err
    for line in (8, 12, 16):
        assert f"{path}:{line}: rule '" in err
    assert "3 problem(s) found" in err
    assert main(["rules", "check", str(BUNDLED_PACK)]) == 0


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes("groups:\n  - name: Bình Định\n".encode().replace("ì".encode(), b"\xec"))  # Latin-1 ì
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    (problem,) = caught.value.problems
    assert problem.line == 2 and "not UTF-8 text" in problem.message


LABELLED = """\
groups:
  - name: g
    rules:
      - id: a
        kind: deadline
        due_from: deadline
        labels:
          team: digital_transformation
          _private: "1"
          bad-name: x
          __meta: y
          9lives: z
          "": w
"""


def test_label_names_follow_the_prometheus_grammar_with_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, LABELLED)
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    found = [(p.line, p.rule_id, p.field.rsplit(".", 1)[-1], p.message.split(" is ")[0]) for p in caught.value.problems]
    assert found == [
        (10, "a", "bad-name", "label name 'bad-name'"),
        (11, "a", "__meta", "label name '__meta' starts with '__', which Prometheus/Alertmanager reserve; rename it"),
        (12, "a", "9lives", "label name '9lives'"),
        (13, "a", "", "label name ''"),
    ]
    assert "use letters, digits and '_', not starting with a digit" in str(caught.value)
    ok = LABELLED.split("          bad-name")[0]
    assert load_rule_file(_write(tmp_path, ok)).groups[0].rules[0].labels == {
        "team": "digital_transformation",
        "_private": "1",
    }


def test_the_editor_schema_refuses_the_label_names_the_loader_refuses() -> None:
    import json

    import jsonschema

    from rules.loading import render_rule_schemas

    schema = json.loads(render_rule_schemas()["rules.schema.json"])
    rule = {"id": "a", "kind": "deadline", "due_from": "deadline"}
    for name, valid in (("team", True), ("_x", True), ("bad-name", False), ("__meta", False), ("9lives", False)):
        document = {"groups": [{"name": "g", "rules": [{**rule, "labels": {name: "v"}}]}]}
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))
        assert (not errors) == valid, (name, errors)


FOUR_MISTAKES = """\
groups:
  - name: g
    rules:
      - id: same
        kind: deadline
        due_from: deadline
        warn_befor: [1d]
      - id: same
        kind: treshold
        indicator: x
        below: 1
      - id: other
        kind: deadline
        due: "2024-07-20T00:00:00+07:00"
        severity: critcal
        roster: units/nowhere.yaml
"""


def test_one_pass_names_every_mistake_with_the_name_meant(tmp_path: Path) -> None:
    path = _write(tmp_path, FOUR_MISTAKES)
    with pytest.raises(RuleFileError) as caught:
        load_pack([path])
    found = sorted((p.line, p.rule_id, p.field, p.message) for p in caught.value.problems)
    assert [(line, rule_id, field) for line, rule_id, field, _ in found] == [
        (7, "same", "groups.0.rules.0.warn_befor"),
        (8, "same", "id"),
        (9, "same", "groups.0.rules.1.kind"),
        (15, "other", "groups.0.rules.2.severity"),
        (16, "other", "roster"),
    ]
    messages = [message for *_, message in found]
    assert messages[0] == "unknown field 'warn_befor'; did you mean 'warn_before'?"
    assert messages[1] == f"rule id 'same' is already used at {path}:4"
    assert messages[2] == "unknown kind 'treshold'; did you mean 'threshold'?"
    assert messages[3].endswith("did you mean 'critical'?")
    assert "units/nowhere.yaml" in messages[4]


def test_a_duplicate_id_within_one_file_is_reported_by_load_rule_file(tmp_path: Path) -> None:
    rule = "      - {id: same, kind: threshold, indicator: x, below: 1}\n"
    with pytest.raises(RuleFileError, match="rule id 'same' is already used"):
        load_rule_file(_write(tmp_path, "groups:\n  - name: g\n    rules:\n" + rule + rule))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grops: []\n", "unknown field 'grops'; did you mean 'groups'?"),
        ("groups:\n  - name: g\n    timzone: UTC\n", "unknown field 'timzone'; did you mean 'timezone'?"),
        ("groups:\n  - name: g\n    zzz: 1\n", "unknown field 'zzz'; expected one of: 'name', 'timezone', "),
        (
            "groups:\n  - name: g\n    rules:\n      - {id: a, kind: threshold, indicator: x, below: 1, schedul: []}\n",
            "unknown field 'schedul'; did you mean 'schedule'?",
        ),
        ("groups:\n  - name: g\n    rules:\n      - {id: a, kind: stale}\n", "unknown kind 'stale'; did you mean"),
    ],
)
def test_unknown_keys_and_kinds_name_the_known_ones(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(_write(tmp_path, text))
    assert any(p.message.startswith(message) for p in caught.value.problems), caught.value.problems
