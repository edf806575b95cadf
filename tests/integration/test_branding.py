"""Admins brand the portal: name, logo and colour, checked before they are saved, and
shown on pages and in e-mails."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from flask.testing import FlaskClient

from portal.accounts.models import Role
from portal.branding import check_colour, contrast
from tests.conftest import csrf_token, login

PAGE = "/admin/branding"


def png(extra: int = 0) -> bytes:
    """A one-pixel PNG, padded with `extra` bytes of a private chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00\x00")
    padding = chunk(b"pdDg", b"\x00" * extra) if extra else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + padding
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def upload(client: FlaskClient, logo: bytes | None = None, **fields: str):
    data: dict[str, object] = {"csrf_token": csrf_token(client, PAGE), **fields}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo), "logo.png")
    return client.post(PAGE, data=data, content_type="multipart/form-data")


@pytest.fixture
def admin(app, make_user) -> FlaskClient:
    make_user("boss", role=Role.ADMIN)
    client = app.test_client()
    login(client, "boss")
    return client


def test_only_admins_reach_the_branding_page(app, make_user):
    make_user("ada")
    make_user("keeper", role=Role.BOOKKEEPER)
    for name in ("ada", "keeper"):
        client = app.test_client()
        login(client, name)
        assert client.get(PAGE).status_code == 404
        assert client.post(PAGE, data={"business_name": "Mine"}).status_code in (400, 404)
    assert app.test_client().get(PAGE).status_code == 302  # to the login page


def test_the_saved_name_logo_and_colour_are_on_every_page(admin: FlaskClient, app):
    response = upload(admin, png(), business_name="Acme Water", colour="#7A1F5C")
    assert response.status_code == 302
    page = admin.get("/account").get_data(as_text=True)
    assert "Acme Water" in page and "<title>Your account · Billing portal</title>" in page
    logo_src = page.split('<img src="', 1)[1].split('"', 1)[0]
    assert logo_src.startswith("/brand/logo?v=")
    served = admin.get(logo_src)
    assert served.data == png() and served.mimetype == "image/png"
    assert "immutable" in served.headers["Cache-Control"] and served.headers["ETag"]
    css_href = page.split('href="/brand.css', 1)[1].split('"', 1)[0]
    css = admin.get("/brand.css" + css_href.replace("&amp;", "&"))
    assert css.mimetype == "text/css" and "--brand: #7a1f5c" in css.get_data(as_text=True)
    anonymous = app.test_client().get("/login").get_data(as_text=True)
    assert "Acme Water" in anonymous


def test_blank_fields_fall_back_to_the_settings(admin: FlaskClient, app):
    upload(admin, business_name="Acme Water")
    upload(admin, business_name="")
    page = admin.get("/account").get_data(as_text=True)
    assert app.config["BUSINESS_NAME"] in page and "Acme Water" not in page


@pytest.mark.parametrize(
    ("logo", "says"),
    [
        (b"GIF89a" + b"\x00" * 40, "must be a PNG or JPEG"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "must be a PNG or JPEG"),
        (png(extra=201 * 1024), "may be at most 200 KB"),
    ],
)
def test_a_logo_that_is_not_a_small_png_or_jpeg_is_refused(admin: FlaskClient, logo, says):
    response = upload(admin, logo, business_name="Acme Water")
    assert response.status_code == 400
    assert says in response.get_data(as_text=True)
    assert "Acme Water" not in admin.get("/account").get_data(as_text=True)


def test_a_logo_beyond_the_upload_limit_says_the_limit_and_saves_nothing(admin: FlaskClient):
    response = upload(admin, png(extra=400 * 1024), business_name="Acme Water")
    assert response.status_code == 413
    assert "200 KB" in response.get_data(as_text=True)
    assert "nothing was saved" in response.get_data(as_text=True)
    assert "Acme Water" not in admin.get("/account").get_data(as_text=True)


def test_a_jpeg_logo_is_accepted(admin: FlaskClient):
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
    assert upload(admin, jpeg).status_code == 302
    page = admin.get("/account").get_data(as_text=True)
    logo_src = page.split('<img src="', 1)[1].split('"', 1)[0]
    assert admin.get(logo_src).mimetype == "image/jpeg"


@pytest.mark.parametrize(
    ("colour", "says"),
    [
        ("#ffff00", "White text on #ffff00 has a contrast of 1.1:1"),
        ("#7fb3ff", "at least 4.5:1"),
        ("red", "six hex digits"),
        ("#12345g", "six hex digits"),
    ],
)
def test_a_colour_unreadable_under_white_text_is_refused_with_the_reason(
    admin: FlaskClient, colour, says
):
    response = upload(admin, colour=colour)
    assert response.status_code == 400
    assert says in response.get_data(as_text=True)


def test_colour_checks_follow_wcag():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert check_colour("#0B6BCB") == "#0b6bcb"
    with pytest.raises(ValueError, match=r"4\.5:1"):
        check_colour("#3399ff")


def test_e_mails_name_the_branded_business(admin: FlaskClient, app, make_user, mailbox):
    upload(admin, business_name="Acme Water")
    make_user("ada")
    visitor = app.test_client()
    token = csrf_token(visitor, "/forgot-password")
    visitor.post("/forgot-password", data={"csrf_token": token, "identifier": "ada"})
    message = mailbox.messages()[-1]
    assert message["Subject"] == "Reset your Acme Water portal password"
    assert "Acme Water billing portal" in mailbox.last_body()
