"""The Grafana dashboard, generated from code: ``monitor dashboards`` writes deploy/grafana/dashboards/.

Every query here is run against a real Prometheus scraping a live monitor by
the end-to-end test, which fails if any panel would come up empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["PANELS", "Panel", "dashboard", "panel_queries", "render_dashboard"]

UID = "compliance-monitor"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: title, Grafana panel type, queries (expression, legend), size."""

    title: str
    kind: str
    queries: tuple[tuple[str, str], ...]
    width: int = 12
    height: int = 8
    unit: str = "short"
    description: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """A titled row of panels."""

    title: str
    panels: tuple[Panel, ...]


PANELS: tuple[Row, ...] = (
    Row(
        "Toàn quốc — national overview",
        (
            Panel(
                "Nhiệm vụ theo trạng thái (tasks by status)",
                "bargauge",
                (("sum by (status) (compliance_tasks)", "{{status}}"),),
                8,
            ),
            Panel(
                "Nhiệm vụ quá hạn theo đơn vị (overdue by unit)",
                "bargauge",
                (
                    (
                        "topk(20, sum by (unit_id, name) (compliance_tasks_overdue * on (unit_id) group_left (name) compliance_unit_info) > 0)",
                        "{{name}} ({{unit_id}})",
                    ),
                ),
                8,
            ),
            Panel(
                "Cảnh báo đang mở theo mức độ (firing alerts by severity)",
                "stat",
                (("sum by (severity) (compliance_alerts_firing)", "{{severity}}"),),
                8,
            ),
            Panel(
                "Cảnh báo đang mở theo quy tắc (firing alerts by rule)",
                "timeseries",
                (("sum by (rule_id) (compliance_alerts_firing)", "{{rule_id}}"),),
                24,
            ),
            Panel(
                "Xã, phường có cảnh báo theo tỉnh (communes alerting, by province)",
                "bargauge",
                (("sum by (province) (compliance_communes_alerting) > 0", "{{province}}"),),
                12,
            ),
            Panel(
                "Xã, phường đã báo cáo theo tỉnh (communes reporting, by province)",
                "bargauge",
                (("sum by (province) (compliance_communes_reporting)", "{{province}}"),),
                12,
            ),
        ),
    ),
    Row(
        "Đơn vị $unit_id — per unit",
        (
            Panel(
                "Nhiệm vụ theo trạng thái",
                "piechart",
                (('sum by (status) (compliance_tasks{unit_id="$unit_id"})', "{{status}}"),),
                8,
            ),
            Panel("Nhiệm vụ quá hạn", "stat", (('sum(compliance_tasks_overdue{unit_id="$unit_id"})', "quá hạn"),), 4),
            Panel(
                "Quá hạn ở các xã, phường",
                "stat",
                (('sum(compliance_commune_tasks_overdue{province="$unit_id"})', "quá hạn"),),
                4,
            ),
            Panel(
                "Chỉ tiêu của đơn vị (indicators)",
                "bargauge",
                (('compliance_indicator_value{unit_id="$unit_id"}', "{{indicator}}"),),
                8,
                unit="percentunit",
            ),
        ),
    ),
    Row(
        "Chỉ tiêu so với mục tiêu — indicators against targets",
        (
            Panel(
                "Trung bình toàn quốc và mục tiêu (national mean vs target)",
                "timeseries",
                (
                    ("avg by (indicator) (compliance_indicator_value)", "{{indicator}}"),
                    ("max by (indicator) (compliance_rule_target)", "mục tiêu {{indicator}}"),
                ),
                unit="percentunit",
            ),
            Panel(
                "Số đơn vị dưới mục tiêu (units below target)",
                "bargauge",
                (
                    (
                        "count by (indicator) (compliance_indicator_value < on (indicator) group_left () max by (indicator) (compliance_rule_target))",
                        "{{indicator}}",
                    ),
                ),
            ),
            Panel(
                "Đơn vị lâu chưa báo cáo (days since last report)",
                "bargauge",
                (
                    (
                        "topk(15, (time() - max by (unit_id) (compliance_indicator_last_report_timestamp_seconds)) / 86400)",
                        "{{unit_id}}",
                    ),
                ),
                24,
                unit="d",
            ),
        ),
    ),
    Row(
        "Monitor health",
        (
            Panel(
                "Events by outcome",
                "timeseries",
                (("sum by (outcome) (rate(compliance_events_total[$__rate_interval]))", "{{outcome}}"),),
                8,
                unit="ops",
            ),
            Panel(
                "Event lag p95",
                "timeseries",
                (
                    (
                        "histogram_quantile(0.95, sum by (le) (rate(compliance_event_lag_seconds_bucket[$__rate_interval])))",
                        "p95",
                    ),
                ),
                8,
                unit="s",
            ),
            Panel(
                "Rule evaluation and tick p95",
                "timeseries",
                (
                    (
                        "histogram_quantile(0.95, sum by (le) (rate(compliance_rule_evaluation_seconds_bucket[$__rate_interval])))",
                        "evaluation p95",
                    ),
                    (
                        "histogram_quantile(0.95, sum by (le) (rate(compliance_tick_seconds_bucket[$__rate_interval])))",
                        "tick p95",
                    ),
                ),
                8,
                unit="s",
            ),
            Panel("Workers up", "stat", (('sum(up{job="compliance-monitor"})', "workers"),), 8),
            Panel(
                "Alert notifications",
                "timeseries",
                (
                    (
                        "sum by (sink, outcome) (rate(compliance_notifications_total[$__rate_interval]))",
                        "{{sink}} {{outcome}}",
                    ),
                ),
                8,
                unit="ops",
            ),
            Panel("Folded units (cardinality guard)", "stat", (("sum(compliance_units_folded)", "folded"),), 8),
            Panel(
                "Consumer lag (records behind)",
                "timeseries",
                (("sum by (topic) (compliance_consumer_lag_records)", "{{topic}}"),),
                8,
                description="Records of the ingress topics not handled yet: the partitions' end less the next offset.",
            ),
            Panel(
                "Changelog recovery",
                "timeseries",
                (
                    ("sum(compliance_recovery_records_remaining)", "records remaining"),
                    ("sum(compliance_recovery_records_expected)", "records expected"),
                    ("sum(rate(compliance_state_items_loaded_total[$__rate_interval]))", "items loaded/s"),
                ),
                8,
                description="A worker taking partitions over replays their changelog, then reads the items into memory.",
            ),
            Panel(
                "Worker memory (resident)",
                "timeseries",
                (('process_resident_memory_bytes{job="compliance-monitor"}', "{{instance}}"),),
                8,
                unit="bytes",
            ),
        ),
    ),
)


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, expression) for every query of every panel."""
    return [(panel.title, expr) for row in PANELS for panel in row.panels for expr, _ in panel.queries]


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": [
            {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + n)}
            for n, (expr, legend) in enumerate(panel.queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model."""
    panels: list[dict[str, Any]] = []
    next_id, y = 1, 0
    for row in PANELS:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id, y, x, row_height = next_id + 1, y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, row_height = 0, y + row_height, 0
            panels.append(_panel(panel, next_id, x, y))
            next_id, x, row_height = next_id + 1, x + panel.width, max(row_height, panel.height)
        y += row_height
    return {
        "uid": UID,
        "title": "Đề án 06 — giám sát tuân thủ (compliance monitor)",
        "tags": ["compliance", "de-an-06"],
        "timezone": "Asia/Ho_Chi_Minh",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                {
                    "name": "unit_id",
                    "type": "query",
                    "label": "Đơn vị",
                    "datasource": DATASOURCE,
                    "query": {"query": "label_values(compliance_unit_info, unit_id)", "refId": "units"},
                    "definition": "label_values(compliance_unit_info, unit_id)",
                    "refresh": 2,
                    "sort": 1,
                    "current": {"text": "VN-22", "value": "VN-22"},
                },
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def render_dashboard() -> str:
    """The dashboard file's text."""
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"
