"""Who may read what: viewers, their credentials, and the units each one sees.

``registry``: the models and ``ViewerAccess`` (a viewers file bound to a
rule pack's rosters: a scope per token and per user); ``loading``: reading
the file, every mistake with file, line and field, and following its changes.
"""

from monitor.viewers.loading import ViewersFile, load_viewers
from monitor.viewers.registry import ALL_UNITS, Scope, Viewer, ViewerAccess, ViewerRegistry, viewer_access

__all__ = [
    "ALL_UNITS",
    "Scope",
    "Viewer",
    "ViewerAccess",
    "ViewerRegistry",
    "ViewersFile",
    "load_viewers",
    "viewer_access",
]
