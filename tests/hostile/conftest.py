"""Hostile input: what an attacker or a careless provider sends, each case reproduced on the landed product first.

Cases about records run on the real (embedded) broker, through a real worker.
"""

from __future__ import annotations

from tests.integration.conftest import broker

__all__ = ["broker"]
