"""Sessions and sign-ins show roughly where they came from: from a GeoIP file when one is
configured, else only what the address itself tells (this computer, a local network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from portal.accounts.places import place_of
from portal.app import create_app
from portal.config import load_settings
from tests.conftest import _wipe, login, write_config


@pytest.fixture
def geoip(tmp_path: Path) -> str:
    """A tiny GeoLite2-City-shaped file: one network in Toronto, one known only by country."""
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["24.114.5.0/24"]),
        {"city": {"names": {"en": "Toronto"}}, "country": {"names": {"en": "Canada"}}},
    )
    writer.insert_network(IPSet(["133.1.1.0/24"]), {"country": {"names": {"de": "Japan"}}})
    path = tmp_path / "places.mmdb"
    writer.to_db_file(str(path))
    return str(path)


def test_a_place_comes_from_the_geoip_file_or_from_the_address_alone(geoip: str):
    assert place_of("24.114.5.7", geoip) == "Toronto, Canada"
    assert place_of("133.1.1.9", geoip) == "Japan"  # any language when English is missing
    assert place_of("8.8.8.8", geoip) == ""  # not in the file
    assert place_of("127.0.0.1", geoip) == "This computer"
    assert place_of("10.1.2.3") == "Local network"
    assert place_of("fe80::1") == "Local network"
    assert place_of("24.114.5.7") == ""  # no file configured
    assert place_of("24.114.5.7", "/no/such/file.mmdb") == ""
    for odd in ("", "unknown", "999.1.1.1", "²", "x" * 500):
        assert place_of(odd, geoip) == ""


def test_the_security_page_shows_where_each_session_is(
    tmp_path: Path, database_url: str, geoip: str, make_user
):
    (tmp_path / "geo").mkdir()
    settings = load_settings(
        write_config(tmp_path / "geo", database_url, security={"geoip_database": geoip}),
        environ={},
    )
    app: Flask = create_app({"SETTINGS": settings, "TESTING": True, "ARGON2_CHEAP": True})
    try:
        make_user("ada")
        away = app.test_client()
        away.environ_base["REMOTE_ADDR"] = "24.114.5.7"
        login(away, "ada")
        home = app.test_client()
        login(home, "ada")
        page = home.get("/account/security").get_data(as_text=True)
        assert "Toronto, Canada" in page
        assert "This computer" in page
    finally:
        _wipe(app.extensions["portal.db"].engine)
        app.extensions["portal.db"].engine.dispose()
