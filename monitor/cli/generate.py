"""``monitor schemas`` and ``monitor dashboards``: files generated from code."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def cmd_dashboards(args: argparse.Namespace) -> int:
    """Write the Grafana dashboard generated from code."""
    from monitor.devtools.grafana import render_dashboard

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "compliance.json"
    path.write_text(render_dashboard(), encoding="utf-8")
    print(path)
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    """Write the JSON Schemas generated from the models."""
    from events.schema import write_schemas
    from rules.loading import render_rule_schemas

    for path in write_schemas(Path(args.out), render_rule_schemas()):
        print(path)
    return 0


def register(commands: Any) -> None:
    """Add ``dashboards`` and ``schemas``."""
    dashboards = commands.add_parser("dashboards", help="write the Grafana dashboard")
    dashboards.add_argument(
        "--out", default="deploy/grafana/dashboards", help="directory (default deploy/grafana/dashboards)"
    )
    dashboards.set_defaults(func=cmd_dashboards)

    schemas = commands.add_parser("schemas", help="write the event JSON Schemas")
    schemas.add_argument("--out", default="deploy/schemas", help="directory (default deploy/schemas)")
    schemas.set_defaults(func=cmd_schemas)
