"""Viewers: who may read which units, from a file checked line by line and followed while the worker runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from monitor.publishers import RegistryFileError, token_hash
from monitor.viewers import ViewersFile, load_viewers, viewer_access
from monitor.viewers import loading as viewers_loading
from rules.loading import BUNDLED_PACK, load_pack

BUNDLED = load_pack([BUNDLED_PACK])
VIEWERS = f"""\
viewers:
  - id: nghean-stttt
    name: Sở TT&TT Nghệ An
    units: [VN-22]
    tokens: [{{sha256: {token_hash("viewer-nghean")}}}]
    users: [Ops@NgheAn.gov.vn]
  - id: to-cong-tac
    name: Tổ công tác Đề án 06
    all: true
    tokens: [{{sha256: {token_hash("viewer-wg")}}}]
  - id: bo-cong-an
    rosters: [ministries]
    tokens: [{{sha256: {token_hash("viewer-bca")}}}]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "viewers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_token_and_user_sees_its_own_units(tmp_path: Path) -> None:
    access = viewer_access(load_viewers(_write(tmp_path, VIEWERS), BUNDLED), BUNDLED)
    nghe_an = access.for_token("viewer-nghean")
    assert nghe_an is not None and nghe_an.admits("VN-22") and not nghe_an.admits("VN-40")
    assert nghe_an.only(["VN-40", "VN-22", "BCA"]) == ["VN-22"]
    by_proxy = access.for_user("ops@nghean.gov.vn ")  # an e-mail address's case does not count
    assert by_proxy is not None and (by_proxy.viewer, by_proxy.units) == (nghe_an.viewer, nghe_an.units)
    assert (by_proxy.user, nghe_an.user) == ("ops@nghean.gov.vn", None)  # the person, as the proxy named them
    group = access.for_token("viewer-wg")
    assert group is not None and group.units is None and group.admits("ZZ-99")
    ministries = access.for_token("viewer-bca")
    assert ministries is not None and ministries.admits("BCA") and not ministries.admits("VN-22")
    assert access.for_token("guess") is None and access.for_user("someone@else") is None


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("viewers:\n  - id: a\n    units: [VN-22]\n", 2, "viewers.0", ["no way in"]),
        ("viewers:\n  - id: a\n    users: [x@y]\n", 2, "viewers.0", ["may see no unit"]),
        ("viewers:\n  - id: a\n    all: true\n    units: [VN-22]\n    users: [x@y]\n", 2, "viewers.0", ["every unit"]),
        (
            "viewers:\n  - id: a\n    rosters: [provinces-99]\n    users: [x@y]\n",
            3,
            "viewers.0.rosters.0",
            ["provinces-63"],
        ),
        ("viewers:\n  - id: a\n    unit: [VN-22]\n", 3, "viewers.0.unit", ["unknown field"]),
        (
            "viewers:\n  - {id: a, all: true, users: [x@y]}\n  - {id: b, all: true, users: [X@Y]}\n",
            1,
            "(file)",
            ["twice"],
        ),
        ("", None, "viewers", ["empty"]),
        (VIEWERS + "anonymous: {rosters: [provinces-99]}\n", 14, "anonymous.rosters.0", ["anonymous", "provinces-63"]),
        (VIEWERS + "anonymous: {}\n", 14, "anonymous", ["may read no unit"]),
        (VIEWERS + "anonymous: {all: true, units: [VN-22]}\n", 14, "anonymous", ["every unit"]),
    ],
)
def test_a_broken_viewers_file_names_file_line_and_field(
    tmp_path: Path, text: str, line: int | None, field: str, words: list[str]
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RegistryFileError) as refused:
        load_viewers(path, BUNDLED)
    (problem,) = refused.value.problems
    assert (problem.path, problem.line, problem.field) == (path, line, field)
    assert all(word in problem.message for word in words), problem.message


def test_a_changed_file_is_read_again_and_a_broken_change_keeps_the_viewers_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(viewers_loading, "RECHECK_SECONDS", 0.0)
    path = _write(tmp_path, VIEWERS)
    followed = ViewersFile(path, BUNDLED)
    assert followed.access().for_token("viewer-nghean") is not None
    revoked = VIEWERS.replace(token_hash("viewer-nghean"), token_hash("viewer-nghean-2"))
    path.write_text(revoked, encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert followed.access().for_token("viewer-nghean") is None  # revoked without a restart
    assert followed.access().for_token("viewer-nghean-2") is not None
    path.write_text("viewers: [", encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert followed.access().for_token("viewer-nghean-2") is not None  # a broken file changes nothing


def test_a_proxy_header_sent_twice_is_believed_neither_time(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from multidict import CIMultiDict

    from monitor.http.answers import Answer
    from monitor.http.viewers import who_reads

    worker = SimpleNamespace(
        viewers=ViewersFile(_write(tmp_path, VIEWERS), BUNDLED),
        settings=SimpleNamespace(auth_proxy_header="X-Forwarded-Email"),
    )
    once = who_reads(worker, CIMultiDict([("X-Forwarded-Email", "ops@nghean.gov.vn")]))  # type: ignore[arg-type]
    assert not isinstance(once, Answer) and once.viewer == "nghean-stttt"
    twice = CIMultiDict([("X-Forwarded-Email", "ops@nghean.gov.vn"), ("X-Forwarded-Email", "other@x")])
    refused = who_reads(worker, twice)  # type: ignore[arg-type]
    assert isinstance(refused, Answer) and refused.status == 400
    # A look-alike of a registered name (the long s and ß fold to "s" and "ss" under casefold) is no viewer's.
    lookalike = VIEWERS.replace("users: [Ops@NgheAn.gov.vn]", "users: [strasse@wg.gov.vn]")
    access = viewer_access(load_viewers(_write(tmp_path, lookalike), BUNDLED), BUNDLED)
    assert access.for_user("STRASSE@wg.gov.vn") is not None and access.for_user("ſtraße@wg.gov.vn") is None


def test_internal_endpoints_close_when_viewers_are_set_without_a_cluster_token() -> None:
    from monitor.http.cluster import peer_refusal

    assert peer_refusal(None, None) is None  # no viewers: as before
    assert peer_refusal(None, None, closed=True) is not None
    assert peer_refusal("secret", "secret", closed=True) is None


def test_anonymous_readers_read_their_units_as_nobody_and_a_credential_still_counts(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from monitor.http.answers import Answer
    from monitor.http.viewers import actor_refusal, who_reads

    settings = SimpleNamespace(auth_proxy_header=None)
    closed = SimpleNamespace(viewers=ViewersFile(_write(tmp_path, VIEWERS), BUNDLED), settings=settings)
    asked = who_reads(closed, {})  # type: ignore[arg-type]
    assert isinstance(asked, Answer) and asked.status == 401  # no anonymous part: who is asking?
    path = tmp_path / "open.yaml"
    path.write_text(VIEWERS + "anonymous:\n  rosters: [provinces]\n", encoding="utf-8")
    worker = SimpleNamespace(viewers=ViewersFile(path, BUNDLED), settings=settings)
    nobody = who_reads(worker, {})  # type: ignore[arg-type]
    assert not isinstance(nobody, Answer) and not nobody.identified
    assert nobody.admits("VN-22") and not nobody.admits("BCA")  # the provinces of today, not the ministries
    refused = actor_refusal(worker, nobody, "VN-22")  # type: ignore[arg-type]
    assert refused is not None and refused.status == 401  # reading is not acting
    wrong = who_reads(worker, {"Authorization": "Bearer guess"})  # type: ignore[arg-type]
    assert isinstance(wrong, Answer) and wrong.status == 403  # a wrong token is not taken for nobody
    nghe_an = who_reads(worker, {"Authorization": "Bearer viewer-nghean"})  # type: ignore[arg-type]
    assert not isinstance(nghe_an, Answer) and nghe_an.identified
    assert actor_refusal(worker, nghe_an, "VN-22") is None  # type: ignore[arg-type]
    elsewhere = actor_refusal(worker, nghe_an, "VN-HN")  # type: ignore[arg-type]
    assert elsewhere is not None and elsewhere.status == 403
