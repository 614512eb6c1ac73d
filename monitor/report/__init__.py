"""Review reports: a scorecard per unit for a period, ranked, as HTML (for the meeting), CSV and JSON."""

from monitor.report.html import CONTENT_SECURITY_POLICY, report_html, report_html_parts
from monitor.report.model import (
    SCORE_FORMULA,
    Report,
    build_report,
    report_csv,
    report_json,
    report_of,
)

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SCORE_FORMULA",
    "Report",
    "build_report",
    "report_csv",
    "report_html",
    "report_html_parts",
    "report_json",
    "report_of",
]
