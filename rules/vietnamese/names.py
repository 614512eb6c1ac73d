"""The Vietnamese names of the monitor's own words: severities, stages, task statuses, resolutions, refusals.

Every screen (the console, the review report, the overdue CSV) names them
the same way: the console asks the server for them (``GET /api/v1/rules``).
"""

from __future__ import annotations

from types import MappingProxyType

from rules.language import BREACH, DUE_SOON, OVERDUE, SEVERITIES, STALE

__all__ = ["REFUSAL_TEXT", "RESOLUTION_TEXT", "SEVERITY_TEXT", "STAGE_TEXT", "STATUS_TEXT"]

#: Each severity, in the order of ``rules.language.SEVERITIES`` (the most urgent first).
SEVERITY_TEXT = MappingProxyType(dict(zip(SEVERITIES, ("Nghiêm trọng", "Cảnh báo", "Thông tin"), strict=True)))

#: Each stage (a breach of a ``below`` line reads "dưới mục tiêu": ``monitor.http.figures``).
STAGE_TEXT = MappingProxyType(
    {DUE_SOON: "sắp đến hạn", OVERDUE: "quá hạn", STALE: "chưa có báo cáo mới", BREACH: "vượt ngưỡng"}
)

#: A task's status (``not_reported``: a rostered unit that sent no task of the kind).
STATUS_TEXT = MappingProxyType(
    {
        "not_started": "chưa bắt đầu",
        "in_progress": "đang thực hiện",
        "completed": "đã hoàn thành",
        "ongoing": "thực hiện thường xuyên",
        "cancelled": "đã hủy",
        "not_reported": "chưa báo cáo",
    }
)

#: How an alert ended, when the resolution needs no figures (a late completion's text counts its days).
RESOLUTION_TEXT = MappingProxyType(
    {
        "completed": "hoàn thành đúng hạn",
        "cancelled": "đã hủy",
        "recovered": "đã trở lại mức cho phép",
        "no_longer_due": "không còn phải theo dõi",
        "extended": "đã được gia hạn",
        "rule_removed": "quy tắc đã được gỡ bỏ",
        "no_longer_rostered": "đơn vị không còn trong danh sách",
        "unit_ended": "đơn vị đã được sắp xếp, sáp nhập",
        "reconciled": "đã đối soát lại",
    }
)

#: Why a publisher registry refused an event (``monitor.publishers.Cause``), as its publisher is told.
REFUSAL_TEXT = MappingProxyType(
    {
        "unregistered": "hệ thống gửi không có trong danh sách nguồn dữ liệu",
        "unrostered": "đơn vị không có trong danh sách đơn vị",
        "not_its_unit": "hệ thống gửi không được báo cáo cho đơn vị này",
        "not_its_source": "mã truy cập là của hệ thống khác",
        "wrong_token": "mã truy cập không đúng",
        "unsigned": "hệ thống gửi phải ký sự kiện, sự kiện này không có chữ ký",
        "bad_signature": "chữ ký không hợp lệ hoặc sự kiện đã bị sửa sau khi ký",
    }
)
