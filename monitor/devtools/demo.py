"""The demo data set of ``monitor up``: Project 06 as it stands on the day the demo starts.

Everything is placed relative to ``now``: this quarter's deadlines, kept on
time, late or not at all by a handful of units (so this quarter's review
report ranks a spread of scores), tasks overdue by days and one by weeks,
deadlines coming up (due-soon warnings), monthly indicator reports from every
province, two of which have gone silent. Every rostered unit issued its 2024
inspection plan in July 2024, so the 20/7/2024 deadline raises nothing today;
that story, with the units that missed it, is the recorded history
``docs/examples/project-06-2024.jsonl``. Figures come from public reporting on
Project 06 (2023-2024). ``publish_demo`` puts the set on the ingress topics before the worker starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from events.codec import encode_event
from events.models import Event, IndicatorEvent, TaskStatus, TaskStatusEvent
from monitor.exceptions import BrokerUnreachable
from monitor.kafka.client import shown_servers, start_client
from monitor.kafka.topics import Topics
from monitor.publishers import PublishedRegistry, load_registry
from monitor.state.registries import publish_registry, read_registries
from rules.language import RulePack
from rules.review import quarter_of
from rules.units import Placed, place

__all__ = [
    "DEMO_PUBLISHERS",
    "DEMO_SOURCE",
    "apply_demo_registry",
    "demo_events",
    "demo_publishers_for",
    "demo_sources",
    "demo_units",
    "publish_demo",
]

log = logging.getLogger(__name__)

DEMO_SOURCE = "demo"
#: The demo's publisher registry: one system per unit of the bundled rule pack (``monitor up`` enforces it).
DEMO_PUBLISHERS = Path(__file__).with_name("demo-publishers.yaml")
#: The demo's viewers: anyone reads every unit, a viewer signed in acts on its units' alerts (``monitor up``).
DEMO_VIEWERS = Path(__file__).with_name("demo-viewers.yaml")
_VN = ZoneInfo("Asia/Ho_Chi_Minh")
_DAY = timedelta(days=1)
#: How far back in the quarter the demo's deadlines reach, in days: a quarter begun fewer days ago has them
#: compressed into the days it has had, so that its review report always has deadlines to score.
_REACH = 46

_TITLES = [
    "Làm sạch dữ liệu dân cư",
    "Kết nối cơ sở dữ liệu quốc gia về dân cư",
    "Cấp tài khoản định danh điện tử mức 2",
    "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính",
    "Triển khai dịch vụ công thiết yếu trực tuyến toàn trình",
    "Tuyên truyền sử dụng ứng dụng VNeID",
    "Rà soát, cắt giảm thủ tục hành chính",
    "Thanh toán không dùng tiền mặt cho học sinh",
    "Khám chữa bệnh bằng căn cước công dân gắn chip",
    "Đào tạo cán bộ về chuyển đổi số",
    "Bảo đảm an toàn thông tin hệ thống",
    "Báo cáo tiến độ Đề án 06 hằng tháng",
]


@dataclass(frozen=True, slots=True)
class _Plan:
    """One demo task: its status now, its deadline (days from now: negative is past), and how it was kept.

    ``kept`` is for completed tasks: days before the deadline (positive) or after it (negative).
    """

    status: TaskStatus
    due_in: float | None = None
    kept: float | None = None


def _done(due_in: float, kept: float = 0.6) -> _Plan:
    return _Plan(TaskStatus.COMPLETED, due_in, kept)


def _doing(due_in: float | None, status: TaskStatus = TaskStatus.IN_PROGRESS) -> _Plan:
    return _Plan(status, due_in)


_ONGOING = _Plan(TaskStatus.ONGOING)


class _Calendar:
    """Where "days ago" falls: whole days, or, early in a quarter, a share of the days it has had."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        start, _ = quarter_of(now.astimezone(_VN).date()).bounds(_VN)
        self._scale = min(_DAY, (now - start) / _REACH)
        self.whole_days = self._scale == _DAY
        #: Between a completion and its due instant, and between the last event and now.
        self.margin = min(timedelta(hours=1), self._scale / 10)

    def at(self, days: float) -> datetime:
        """The instant ``days`` from now (negative: in the past; only the past is compressed)."""
        return self.now + (days * _DAY if days >= 0 else days * self._scale)

    def deadline(self, days: float) -> date | datetime:
        """A deadline ``days`` from now: a bare date (due at the end of that day), or an instant when compressed."""
        if days >= 0 or self.whole_days:
            return self.at(days).astimezone(_VN).date()
        return self.at(days)

    def due(self, days: float) -> datetime:
        """When a deadline of ``deadline(days)`` falls due."""
        given = self.deadline(days)
        if isinstance(given, datetime):
            return given
        return datetime.combine(given + _DAY, datetime.min.time(), tzinfo=_VN)


def _unit_tasks(unit: str, calendar: _Calendar, plans: Sequence[_Plan]) -> list[Event]:
    """A unit's tasks NV-01…, each reported with its deadline; a completion does not repeat the deadline.

    The deadline in force is the one the unit gave first: a completion after it is late.
    """
    events: list[Event] = []
    for n, plan in enumerate(plans, start=1):
        task_id = f"NV-{n:02d}"
        title = f"{_TITLES[(n - 1) % len(_TITLES)]} (nhiệm vụ {n})"
        opened = calendar.at(min(-10.0, (plan.due_in or 0) - 30))
        first_status = TaskStatus.IN_PROGRESS if plan.status is TaskStatus.COMPLETED else plan.status
        events.append(
            TaskStatusEvent(
                event_id=f"{unit}-{task_id}-1",
                source=DEMO_SOURCE,
                unit_id=unit,
                task_id=task_id,
                kind="task",
                status=first_status,
                deadline=calendar.deadline(plan.due_in) if plan.due_in is not None else None,
                occurred_at=opened,
                title=title,
                labels={"program": "de-an-06"},
            )
        )
        if plan.status is TaskStatus.COMPLETED and plan.due_in is not None and plan.kept is not None:
            due = calendar.due(plan.due_in)
            kept = calendar.at(plan.due_in - plan.kept)
            # On time: at the latest an hour before the due instant (a bare date's day may end after "now").
            margin = calendar.margin
            done = min(kept, due - margin) if plan.kept > 0 else max(kept, due + margin)
            events.append(
                TaskStatusEvent(
                    event_id=f"{unit}-{task_id}-2",
                    source=DEMO_SOURCE,
                    unit_id=unit,
                    task_id=task_id,
                    status=TaskStatus.COMPLETED,
                    occurred_at=min(done, calendar.now - margin),
                )
            )
    return events


def _indicator(
    unit: str, name: str, at: datetime, n: int, value: float | None = None, num: float = 0, den: float = 0
) -> Event:
    return IndicatorEvent(
        event_id=f"{unit}-{name}-{n}",
        source=DEMO_SOURCE,
        unit_id=unit,
        indicator=name,
        value=value,
        numerator=num if value is None else None,
        denominator=den if value is None else None,
        period=at.astimezone(_VN).strftime("%Y-%m"),
        occurred_at=at,
    )


def _plans_2024(units: Sequence[str]) -> list[Event]:
    """The 2024 inspection plan, issued in July 2024 by every rostered unit (the misses are in the recorded history)."""
    return [
        TaskStatusEvent(
            event_id=f"{unit}-KH-2024-1",
            source=DEMO_SOURCE,
            unit_id=unit,
            task_id="KH-2024",
            kind="inspection_plan",
            status=TaskStatus.COMPLETED,
            occurred_at=datetime(2024, 7, 1 + n % 18, 9, tzinfo=_VN),
            title="Kế hoạch kiểm tra, giám sát hoạt động chuyển đổi số năm 2024",
        )
        for n, unit in enumerate(units)
    ]


#: Units whose systems send a national administrative-unit code, not the ISO one: Hà Nội's portal (01) and the
#: communes of Nghệ An and Hà Nội (five digits), each placed on its unit by the registry, the code kept.
_SENT_AS = {
    "01": "VN-HN",
    "16681": "VN-16681",  # Phường Thành Vinh, Nghệ An
    "16690": "VN-16690",  # Phường Trường Vinh
    "17920": "VN-17920",  # Phường Vinh Hưng
    "16708": "VN-16708",  # Phường Vinh Lộc
    "00004": "VN-00004",  # Phường Ba Đình, Hà Nội
    "00070": "VN-00070",  # Phường Hoàn Kiếm
}

#: Provinces whose monthly report stopped coming: their last one is 40 days old (the pack allows 30).
_SILENT = ("VN-04", "VN-45")
#: Provinces whose figures are given below, from public reporting. Bình Dương's (VN-57) still come under its
#: former code, from a system not yet moved over: they land on Hồ Chí Minh (VN-SG), which it joined on 2025-07-01.
_REPORTED_APART = ("VN-22", "VN-57", "VN-SG", "VN-02")


#: The bundled pack's target for the online-dossier ratio, and how much a province's ratio rose in a month.
#: A firing alert shows the value it fired with: a province below the target has one report (its latest), so
#: that the console's figure is the latest one.
_TARGET, _RISE = 0.5, 0.04


def _online_ratios(now: datetime, provinces: Sequence[str]) -> list[Event]:
    """The online-dossier ratio of every province, a month ago and this week, spread like the national figures."""
    events: list[Event] = []
    for unit in provinces:
        if unit in _REPORTED_APART:
            continue
        spread = (zlib.crc32(unit.encode()) % 56) / 100  # deterministic, 0.00-0.55
        if unit in _SILENT:
            events.append(_indicator(unit, "online_dossier_ratio", now - 40 * _DAY, 1, round(0.25 + spread, 3)))
            continue
        latest = round(0.29 + spread, 3)
        if latest - _RISE >= _TARGET:  # a month ago too; a ratio below the target is reported once: see below
            events.append(_indicator(unit, "online_dossier_ratio", now - 32 * _DAY, 1, round(latest - _RISE, 3)))
        events.append(_indicator(unit, "online_dossier_ratio", now - 3 * _DAY, 2, latest))
    return events


def demo_events(
    now: datetime, provinces: Sequence[str] = (), ministries: Sequence[str] = (), former: Sequence[str] = ()
) -> list[Event]:
    """The demo events, oldest first, placed around ``now``.

    Five provinces have this quarter's deadlines: Nghệ An (27 tasks: 10 kept on time, 2 late, one overdue
    by 12 days, 5 coming up, 9 performed regularly), Lào Cai (26: 6 on time, one overdue by 2 days, one due
    in 2 days, 17 regular), Bình Thuận (4: one late, one overdue by 5 days, one due yesterday), Hà Nội (4 on
    time, one overdue by three weeks) and Hồ Chí Minh City (4, all on time). Every province reports its
    online-dossier ratio monthly (two have stopped; Lào Cai's rose above the target); Nghệ An, Bình Dương
    and Lào Cai report the figures public reporting gave. Six communes report their tasks: four wards of
    Vinh (Nghệ An; one task overdue by 6 days, one late) and two of Hà Nội. Unit ids are ISO 3166-2:VN
    codes: Nghệ An is VN-22, Lào Cai VN-02, Bình Thuận VN-40, Bình Dương VN-57. Bình Thuận's and Bình
    Dương's systems still send their former codes: since 2025-07-01 their events land on Lâm Đồng (VN-35)
    and Hồ Chí Minh City (VN-SG). Hà Nội's portal sends its national code (01), the communes theirs (16681,
    00004…). ``former``: units of the 2024 rosters that no longer exist; they issued their 2024 plans.
    """
    calendar = _Calendar(now)
    not_started = TaskStatus.NOT_STARTED
    nghe_an = [
        *(_done(-d) for d in (40, 36, 32, 28, 24, 20, 16, 12, 8, 4)),
        _done(-30, kept=-5),
        _done(-18, kept=-9),
        *[_ONGOING] * 9,
        *(_doing(d) for d in (3, 5, 20, 40, 60)),
        _doing(-12),
    ]
    lao_cai = [*(_done(-d) for d in (42, 35, 28, 21, 14, 7)), _doing(2), _doing(30), _doing(-2, not_started)]
    lao_cai += [_ONGOING] * 17
    binh_thuan = [_done(-20, kept=-4), _doing(-5), _doing(-1, not_started), _ONGOING]
    ha_noi = [*(_done(-d) for d in (38, 26, 15, 6)), _doing(-23)]
    ho_chi_minh = [_done(-d) for d in (33, 22, 11, 5)]
    communes = {
        "16681": [_done(-25), _done(-9), _doing(12)],
        "16690": [_done(-21, kept=-3), _doing(-6)],  # one late, one overdue by 6 days
        "17920": [_done(-14), _doing(4)],
        "16708": [_doing(-2, not_started)],
        "00004": [_done(-27), _done(-13), _done(-3)],
        "00070": [_done(-19), _doing(-9)],
    }
    recent, month_ago = now - 2 * _DAY, now - 31 * _DAY
    events = [
        *_plans_2024([*provinces, *ministries, *former]),
        *_online_ratios(now, provinces),
        *_unit_tasks("VN-22", calendar, nghe_an),
        *_unit_tasks("VN-02", calendar, lao_cai),
        *_unit_tasks("VN-40", calendar, binh_thuan),
        *_unit_tasks("01", calendar, ha_noi),
        *_unit_tasks("VN-SG", calendar, ho_chi_minh),
        *(event for code, plans in communes.items() for event in _unit_tasks(code, calendar, plans)),
        _indicator("VN-22", "online_dossier_ratio", recent, 1, value=0.458),
        _indicator("VN-22", "dossier_digitisation_ratio", recent, 1, value=0.7891),
        _indicator("VN-22", "essential_services_online_ratio", recent, 1, value=0.8841),
        _indicator("VN-57", "eid_activation_ratio", recent, 1, num=172_986, den=1_005_735),
        _indicator("VN-57", "online_dossier_ratio", month_ago, 1, value=0.69),
        _indicator("VN-57", "online_dossier_ratio", recent, 2, value=0.72),
        _indicator("VN-02", "online_dossier_ratio", month_ago, 1, value=0.47),  # below the target a month ago,
        _indicator("VN-02", "online_dossier_ratio", recent, 2, value=0.53),  # above it since: a resolved alert
    ]
    sources = demo_sources()
    return sorted(
        (
            e.model_copy(update={"source": sources[unit]})
            if (unit := _SENT_AS.get(e.unit_id, e.unit_id)) in sources
            else e
            for e in events
        ),
        key=lambda event: event.occurred_at,
    )


@functools.cache
def demo_sources() -> dict[str, str]:
    """Each unit's own publisher in the demo registry (a province's portal reports its communes too): the source."""
    registry = load_registry(DEMO_PUBLISHERS)
    return {unit: p.id for p in registry.publishers if not p.rosters for unit in p.units}


def demo_publishers_for(pack: RulePack) -> Path | None:
    """The demo registry, when it binds every unit of ``pack``'s rosters to a publisher (the bundled pack's)."""
    return DEMO_PUBLISHERS if pack.rostered_units <= demo_sources().keys() else None


async def apply_demo_registry(
    bootstrap: str, topics: Topics, pack: RulePack, now: datetime, *, client: Mapping[str, Any] | None = None
) -> str | None:
    """Apply the demo registry to the publishers topic unless it holds one; the version applied, or ``None``.

    ``None`` too when the demo registry does not cover ``pack`` (rules of the user's own): open mode then.
    """
    if demo_publishers_for(pack) is None:
        return None
    options = dict(client or {})
    entries = await read_registries(bootstrap, topics.publishers, options)
    if any(entry.registry is not None for entry in entries):
        return None
    record = PublishedRegistry.of(
        load_registry(DEMO_PUBLISHERS, pack), applied_at=now, applied_by="monitor up", message="the demo's publishers"
    )
    await publish_registry(bootstrap, topics.publishers, options, record)
    return record.version


_STOP_SECONDS = 5.0  # what closing the demo's producer may take once its records are acknowledged (or not)


def demo_units(pack: RulePack, now: datetime) -> tuple[list[str], list[str], list[str]]:
    """The provinces, the ministries and the former units the demo reports for.

    The first two: the units ``pack``'s rules expect that exist at ``now`` (the 34 provinces of today, not
    the 63 of 2024), by level; the third: the rules' units that no longer do (they issued their 2024 plans).
    """
    current = {u.id: u.level for u in pack.units.in_force(now)}
    provinces = sorted(u for u in pack.rostered_units if current.get(u) == "province")
    ministries = sorted(u for u in pack.rostered_units if current.get(u) == "ministry")
    return provinces, ministries, sorted(pack.rostered_units - current.keys())


def _landing(event: Event, pack: RulePack) -> str:
    """The unit an event lands on (its code placed by the registry), which keys its record.

    A task's events then reach its unit's partition together and are handled in order in one batch at start:
    an event keyed by the code it was sent under would be forwarded there one by one, and a task reported and
    completed before the worker started would fire and resolve as the worker read on.
    """
    placed = place(event, pack.units)
    return placed.event.unit_id if isinstance(placed, Placed) else event.unit_id


async def publish_demo(
    bootstrap: str,
    topics: Topics,
    pack: RulePack,
    now: datetime,
    *,
    client: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> int:
    """Produce the demo events to the ingress topics, keyed by unit, before a worker reads them.

    Published before the worker starts, the records are there when it first
    reads its partitions: it never judges a rostered unit absent for want of
    data it was about to be given.

    Args:
        bootstrap: The brokers, ``host:port[,host:port]``.
        topics: The topic names.
        pack: The rule pack: the demo reports for the provinces and ministries its rules expect (``demo_units``).
        now: The instant the demo's deadlines are placed around.
        client: Connection security (``monitor.kafka.client.client_options``).
        timeout: Seconds the broker has to acknowledge every record.

    Returns:
        How many events were published.

    Raises:
        BrokerUnreachable: the broker did not answer, refused a record or did not acknowledge every one in time.
    """
    events = demo_events(now, *demo_units(pack, now))
    shown = shown_servers(bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, request_timeout_ms=int(timeout * 1000), **(client or {})
    )
    try:
        async with asyncio.timeout(timeout):
            await start_client(producer, bootstrap)
            acks = [
                await producer.send(topics.for_event(e), value=encode_event(e), key=_landing(e, pack).encode("utf-8"))
                for e in events
            ]
            await asyncio.gather(*acks)
    except TimeoutError:
        raise BrokerUnreachable(
            f"the broker at {shown} did not acknowledge the demo events within {timeout:.0f}s"
        ) from None
    except KafkaError as exc:
        raise BrokerUnreachable(f"the broker at {shown} refused the demo events: {exc}") from None
    finally:
        with contextlib.suppress(TimeoutError, KafkaError, OSError):  # a broker gone mid-send holds nothing up
            async with asyncio.timeout(_STOP_SECONDS):
                await producer.stop()
    return len(events)
