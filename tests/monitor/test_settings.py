"""Settings derived from others: where alert links point."""

from __future__ import annotations

import pytest

from monitor.settings import Settings


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]"])
def test_links_to_an_address_that_binds_every_interface_are_flagged(host: str) -> None:
    settings = Settings(web_host=host, web_port=6066)
    assert settings.unreachable_links is not None and "MONITOR_PUBLIC_URL" in settings.unreachable_links
    public = Settings(web_host=host, public_url="https://compliance.example.org/")
    assert public.unreachable_links is None and public.base_url == "https://compliance.example.org"


def test_links_to_a_named_host_are_fine() -> None:
    assert Settings(web_host="127.0.0.1").unreachable_links is None
