"""The demo data set of ``monitor up``, drawn from public reporting on Project 06 (2023-2024).

Deadlines are placed relative to ``now`` so that the demo always shows one
overdue task and a few due soon, whatever the date. ``publish_demo_when_ready``
sends the set once the worker is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from events.codec import encode_event
from events.models import Event, IndicatorEvent, TaskStatus, TaskStatusEvent
from monitor.exceptions import BrokerUnreachable
from monitor.kafka.client import shown_servers, start_client
from monitor.kafka.topics import Topics

__all__ = ["DEMO_SOURCE", "demo_events", "publish_demo"]

log = logging.getLogger(__name__)

_READY_WAIT_SECONDS = 120.0

DEMO_SOURCE = "demo"
_VN = ZoneInfo("Asia/Ho_Chi_Minh")

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


def _task(unit: str, n: int, status: TaskStatus, now: datetime, deadline: date | None) -> TaskStatusEvent:
    return TaskStatusEvent(
        event_id=f"{unit}-NV{n:02d}-1",
        source=DEMO_SOURCE,
        unit_id=unit,
        task_id=f"NV-{n:02d}",
        kind="task",
        status=status,
        deadline=deadline,
        occurred_at=now - timedelta(minutes=30),
        title=f"{_TITLES[(n - 1) % len(_TITLES)]} (nhiệm vụ {n})",
        labels={"program": "de-an-06"},
    )


def _unit_tasks(unit: str, now: datetime, plan: Sequence[tuple[TaskStatus, timedelta | None]]) -> list[Event]:
    return [
        _task(unit, n, status, now, (now + offset).astimezone(_VN).date() if offset is not None else None)
        for n, (status, offset) in enumerate(plan, start=1)
    ]


def _indicator(
    unit: str, name: str, now: datetime, value: float | None = None, num: float = 0, den: float = 0
) -> Event:
    return IndicatorEvent(
        event_id=f"{unit}-{name}-1",
        source=DEMO_SOURCE,
        unit_id=unit,
        indicator=name,
        value=value,
        numerator=num if value is None else None,
        denominator=den if value is None else None,
        period="2024-H1",
        occurred_at=now - timedelta(minutes=20),
    )


def _plans(now: datetime, units: Sequence[str]) -> list[Event]:
    """The 2024 inspection plan, issued before 20 July by most units; a few are missing or late."""
    late = {"VN-22", "VN-HN", "VN-40", "VN-03", "BTC", "BYT"}  # Nghệ An's is still in progress
    events: list[Event] = []
    for n, unit in enumerate(units):
        if unit in late:
            status, at = (
                (TaskStatus.IN_PROGRESS, datetime(2024, 7, 2, 9, tzinfo=_VN)) if unit == "VN-22" else (None, None)
            )
        else:
            status, at = TaskStatus.COMPLETED, datetime(2024, 7, 1 + n % 18, 9, tzinfo=_VN)
        if status is None or at is None:
            continue
        events.append(
            TaskStatusEvent(
                event_id=f"{unit}-KH-2024-1",
                source=DEMO_SOURCE,
                unit_id=unit,
                task_id="KH-2024",
                kind="inspection_plan",
                status=status,
                occurred_at=at,
                title="Kế hoạch kiểm tra, giám sát hoạt động chuyển đổi số năm 2024",
            )
        )
    return events


def _online_ratios(now: datetime, provinces: Sequence[str]) -> list[Event]:
    """A monthly online-dossier ratio from every province, spread like the national figures (17-72%)."""
    events: list[Event] = []
    for unit in provinces:
        if unit in ("VN-22", "VN-57", "VN-02"):
            continue  # their real figures are below
        spread = (zlib.crc32(unit.encode()) % 56) / 100  # deterministic, 0.00-0.55
        events.append(_indicator(unit, "online_dossier_ratio", now, value=round(0.17 + spread, 3)))
    return events


def demo_events(now: datetime, provinces: Sequence[str] = (), ministries: Sequence[str] = ()) -> list[Event]:
    """The demo events: Nghệ An's 27 tasks, Lào Cai's 26, Bình Thuận's 4, indicators of three provinces.

    Unit ids are ISO 3166-2:VN codes: Nghệ An is VN-22, Lào Cai VN-02, Bình Thuận VN-40, Bình Dương VN-57.
    """

    def days(n: int | None) -> timedelta | None:
        return None if n is None else timedelta(days=n)

    done, ongoing, doing = TaskStatus.COMPLETED, TaskStatus.ONGOING, TaskStatus.IN_PROGRESS
    # Nghệ An, mid-2024: 12 completed, 9 performed regularly, 5 in progress, 1 not completed.
    nghe_an = (
        [(done, days(-30))] * 12
        + [(ongoing, days(None))] * 9
        + [(doing, days(3)), (doing, days(5)), (doing, days(20)), (doing, days(40)), (doing, days(60))]
        + [(doing, days(-12))]
    )
    # Lào Cai, early 2024: 26 tasks of Directive 05, 9 with deadlines and 17 performed regularly.
    lao_cai = [(done, days(-10))] * 6 + [(doing, days(2)), (doing, days(30)), (TaskStatus.NOT_STARTED, days(-2))]
    lao_cai += [(ongoing, days(None))] * 17
    # Bình Thuận: a short list with two tasks past their deadline.
    binh_thuan = [(done, days(-20)), (doing, days(-5)), (TaskStatus.NOT_STARTED, days(-1)), (ongoing, days(None))]
    return [
        *_plans(now, [*provinces, *ministries]),
        *_online_ratios(now, provinces),
        *_unit_tasks("VN-22", now, nghe_an),
        *_unit_tasks("VN-02", now, lao_cai),
        *_unit_tasks("VN-40", now, binh_thuan),
        _indicator("VN-22", "online_dossier_ratio", now, value=0.458),
        _indicator("VN-22", "dossier_digitisation_ratio", now, value=0.7891),
        _indicator("VN-22", "essential_services_online_ratio", now, value=0.8841),
        _indicator("VN-57", "eid_activation_ratio", now, num=172_986, den=1_005_735),
        _indicator("VN-57", "online_dossier_ratio", now, value=0.72),
        _indicator("VN-02", "online_dossier_ratio", now, value=0.51),
    ]


_STOP_SECONDS = 5.0  # what closing the demo's producer may take once its records are acknowledged (or not)


async def publish_demo(
    bootstrap: str,
    topics: Topics,
    units: Collection[str],
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
        units: The rule pack's unit ids: those starting with ``VN-`` are provinces, the others ministries.
        now: The instant the demo's deadlines are placed around.
        client: Connection security (``monitor.kafka.client.client_options``).
        timeout: Seconds the broker has to acknowledge every record.

    Returns:
        How many events were published.

    Raises:
        BrokerUnreachable: the broker did not answer, refused a record or did not acknowledge every one in time.
    """
    provinces = sorted(u for u in units if u.startswith("VN-"))
    ministries = sorted(u for u in units if not u.startswith("VN-"))
    events = demo_events(now, provinces, ministries)
    shown = shown_servers(bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, request_timeout_ms=int(timeout * 1000), **(client or {})
    )
    try:
        async with asyncio.timeout(timeout):
            await start_client(producer, bootstrap)
            acks = [
                await producer.send(topics.for_event(e), value=encode_event(e), key=e.unit_id.encode("utf-8"))
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
            await asyncio.wait_for(producer.stop(), _STOP_SECONDS)
    return len(events)
