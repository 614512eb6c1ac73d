"""HTTP on the worker's web port: routes registered from outside, views as functions over a read-only worker."""

from monitor.http.routes import register_routes

__all__ = ["register_routes"]
