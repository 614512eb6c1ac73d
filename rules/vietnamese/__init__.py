"""The Vietnamese texts of alerts and figures: summaries, resolution texts, numbers as readers write them.

``messages``: the template fields of a subject, the default summaries and
resolution texts, days overdue; ``display``: numbers, ratios, dates,
durations and deadlines in Vietnamese (``45,8 %``, ``19/07/2024``,
``30 ngày``); ``names``: what severities, stages, statuses and resolutions
are called. The engine writes its summaries through here.
"""

from rules.vietnamese.display import (
    PERCENT_SPACE,
    date_text,
    datetime_text,
    day_text,
    days_text,
    due_text,
    indicator_text,
    is_ratio,
    late_text,
    name_order,
    number_text,
    overdue_text,
    percent_text,
    search_folded,
    span_text,
)
from rules.vietnamese.messages import (
    days_overdue,
    extension_summary,
    figure_texts,
    render_summary,
    resolution_summary,
    subject_fields,
)
from rules.vietnamese.names import REFUSAL_TEXT, RESOLUTION_TEXT, SEVERITY_TEXT, STAGE_TEXT, STATUS_TEXT

__all__ = [
    "PERCENT_SPACE",
    "REFUSAL_TEXT",
    "RESOLUTION_TEXT",
    "SEVERITY_TEXT",
    "STAGE_TEXT",
    "STATUS_TEXT",
    "date_text",
    "datetime_text",
    "day_text",
    "days_overdue",
    "days_text",
    "due_text",
    "extension_summary",
    "figure_texts",
    "indicator_text",
    "is_ratio",
    "late_text",
    "name_order",
    "number_text",
    "overdue_text",
    "percent_text",
    "render_summary",
    "resolution_summary",
    "search_folded",
    "span_text",
    "subject_fields",
]
