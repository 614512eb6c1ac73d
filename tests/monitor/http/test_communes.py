"""The communes list (``/api/v1/communes``) and a unit's lineage, on the bundled registry of 2025."""

from __future__ import annotations

import json
from typing import Any

from monitor.http.answers import Answer
from monitor.http.communes import communes
from monitor.http.console import lineage_view
from monitor.http.viewers import OPEN
from monitor.viewers import Scope
from rules.loading import BUNDLED_PACK, load_pack
from tests.conftest import vn

PACK = load_pack([BUNDLED_PACK])
NOW = vn(2026, 12, 5, 9)


def _ask(query: dict[str, str], summaries: list[dict[str, Any]] | None = None, scope: Scope = OPEN) -> Answer:
    return communes(PACK, summaries or [], NOW, query, scope)


def _body(answer: Answer) -> dict[str, Any]:
    assert answer.status == 200, answer.body
    return dict(json.loads(answer.body))


def test_every_commune_in_force_is_listed_a_page_at_a_time_whether_or_not_it_reported() -> None:
    everything = _body(_ask({}))
    assert everything["in_force"] == everything["count"] == 3321
    assert len(everything["communes"]) == 100 and everything["next_offset"] == 100
    assert everything["by_severity"] == {"ok": 3321}
    last = _body(_ask({"offset": "3300"}))
    assert len(last["communes"]) == 21 and last["next_offset"] is None
    seen = {
        c["unit_id"]
        for offset in range(0, 3321, 500)
        for c in _body(_ask({"offset": str(offset), "limit": "500"}))["communes"]
    }
    assert len(seen) == 3321  # the pages cover every commune once
    assert len(everything["provinces"]) == 34


def test_a_province_lists_its_own_communes_and_a_search_needs_no_diacritics() -> None:
    nghe_an = _body(_ask({"province": "VN-22"}))
    assert nghe_an["in_force"] == 130 and nghe_an["province"] == {"id": "VN-22", "name": "Nghệ An"}
    assert {c["province_id"] for c in nghe_an["communes"]} == {"VN-22"}
    found = _body(_ask({"q": "ba dinh"}))
    assert ("VN-00004", "Phường Ba Đình", "Hà Nội") in {
        (c["unit_id"], c["unit_name"], c["province_name"]) for c in found["communes"]
    }
    assert all("ba dinh" in c["unit_name"].lower().replace("đ", "d").replace("ì", "i") for c in found["communes"])
    by_code = _body(_ask({"q": "00004"}))
    assert [c["unit_id"] for c in by_code["communes"]] == ["VN-00004"]


def test_communes_with_alerts_come_first_then_the_most_overdue_then_by_name() -> None:
    summaries = [
        {"unit_id": "VN-16681", "overdue": 1, "alerts_firing": 1, "worst_severity": "warning", "tasks_total": 2},
        {
            "unit_id": "VN-16690",
            "overdue": 4,
            "alerts_firing": 2,
            "worst_severity": "critical",
            "tasks_total": 5,
            "last_event_at": "2026-12-01T02:00:00+00:00",
        },
        {"unit_id": "VN-16702", "overdue": 0, "alerts_firing": 1, "worst_severity": "critical", "tasks_total": 1},
    ]
    page = _body(_ask({"province": "VN-22"}, summaries))
    assert [c["unit_id"] for c in page["communes"][:3]] == ["VN-16690", "VN-16702", "VN-16681"]
    assert page["by_severity"] == {"critical": 2, "warning": 1, "ok": 127}
    assert page["communes"][0]["display"]["last_event"] == "01/12/2026 09:00"
    named = [c["unit_name"] for c in _body(_ask({"province": "VN-22", "sort": "name", "limit": "500"}))["communes"]]
    vinh = [n for n in named if n.startswith("Phường Vinh ")]
    assert vinh == ["Phường Vinh Hưng", "Phường Vinh Lộc", "Phường Vinh Phú"]  # h, l, p
    assert named.index("Phường Vinh Phú") < named.index("Xã An Châu")  # p before x


def test_provinces_are_offered_in_vietnamese_dictionary_order() -> None:
    provinces = [p["name"] for p in _body(_ask({"limit": "1"}))["provinces"]]
    # a space before any letter; ă, â after a; đ after d; ô, ơ after o; ư after u; tones only break ties
    assert provinces[:12] == [
        "An Giang",
        "Bắc Ninh",
        "Cà Mau",
        "Cao Bằng",
        "Cần Thơ",
        "Đà Nẵng",
        "Đắk Lắk",
        "Điện Biên",
        "Đồng Nai",
        "Đồng Tháp",
        "Gia Lai",
        "Hà Nội",
    ]
    assert provinces.index("Hải Phòng") < provinces.index("Hồ Chí Minh") < provinces.index("Huế")
    assert provinces.index("Huế") < provinces.index("Hưng Yên")


def test_a_viewer_sees_only_its_communes_and_mistakes_are_named() -> None:
    scoped = _body(_ask({"province": "VN-22"}, scope=Scope("v", "V", frozenset({"VN-16681"}))))
    assert [c["unit_id"] for c in scoped["communes"]] == ["VN-16681"] and scoped["in_force"] == 1
    assert _ask({"province": "VN-99"}).status == 404
    assert _ask({"province": "VN-00004"}).status == 404  # a commune is not a province
    assert _ask({"sort": "size"}).status == 400
    assert _ask({"limit": "0"}).status == 400


def test_a_successor_names_the_units_merged_into_it_and_a_former_unit_what_it_became() -> None:
    tuyen_quang = lineage_view(PACK, "VN-07", NOW)
    assert tuyen_quang["predecessors"] == [
        {
            "unit_id": "VN-03",
            "unit_name": "Hà Giang",
            "until": "2025-07-01T00:00:00+07:00",
            "until_display": "01/07/2025",
            "whole": True,
        }
    ]
    assert tuyen_quang["successors"] == [] and tuyen_quang["communes"] == 124 and tuyen_quang["until"] is None
    ha_giang = lineage_view(PACK, "VN-03", NOW)
    assert [s["unit_id"] for s in ha_giang["successors"]] == ["VN-07"] and ha_giang["until_display"] == "01/07/2025"
    ba_dinh = lineage_view(PACK, "VN-00004", NOW)
    assert ba_dinh["level"] == "commune" and ba_dinh["communes"] == 0
    assert ("VN-00004~2025", True) in {(p["unit_id"], p["whole"]) for p in ba_dinh["predecessors"]}
    assert any(not p["whole"] for p in ba_dinh["predecessors"])  # parts of wards split among several
    unknown = lineage_view(PACK, "ORG-X", NOW)
    assert unknown["predecessors"] == unknown["successors"] == [] and unknown["level"] is None
