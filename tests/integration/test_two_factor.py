"""Two-factor sign-in: an authenticator app set up with a QR code, recovery codes, e-mailed
codes, remembered devices, staff who must enrol, and step-up before security changes."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import (
    EmailCode,
    LoginSession,
    PortalUser,
    RecoveryCode,
    Role,
    TotpFactor,
    TrustedDevice,
)
from portal.db import utcnow
from tests.conftest import (
    PASSWORD,
    Mailbox,
    app_code,
    csrf_token,
    login,
    post_form,
)

SECRET_RE = re.compile(r'data-testid="totp-secret">([A-Z2-7 ]+)<')
CODE_RE = re.compile(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>")


def first_step(client: FlaskClient, identifier: str = "ada", password: str = PASSWORD):
    return post_form(client, "/login", {"identifier": identifier, "password": password})


def second_step(client: FlaskClient, code: str, method: str = "app", remember: bool = False):
    data = {"method": method, "code": code}
    if remember:
        data["remember"] = "y"
    return post_form(client, "/login/verify", data, page=f"/login/verify?method={method}")


def user_row(app: Flask, username: str = "ada") -> PortalUser:
    with app.app_context():
        found = db.session().scalar(sa.select(PortalUser).where(PortalUser.username == username))
        assert found is not None
        return found


def enrol(client: FlaskClient) -> tuple[str, list[str]]:
    """Set up the app through the pages, as a person with a phone would; (secret, codes)."""
    page = client.get("/account/two-factor/app").get_data(as_text=True)
    match = SECRET_RE.search(page)
    assert match, page
    assert "<svg" in page  # the QR code
    secret = match.group(1).replace(" ", "")
    done = post_form(
        client,
        "/account/two-factor/app",
        {"code": pyotp.TOTP(secret).now()},
        page="/account/two-factor/app",
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.headers["Cache-Control"] == "no-store"
    return secret, CODE_RE.findall(done.get_data(as_text=True))


@pytest.fixture
def ada(make_user) -> PortalUser:
    return make_user("ada")


@pytest.fixture
def ada_with_app(make_user) -> PortalUser:
    return make_user("ada", two_factor=True)


def test_a_customer_sets_up_an_app_and_gets_ten_recovery_codes_shown_once(
    app: Flask, client: FlaskClient, ada: PortalUser, mailbox: Mailbox
):
    login(client, "ada")
    wrong = post_form(
        client, "/account/two-factor/app", {"code": "000000"}, page="/account/two-factor/app"
    )
    assert wrong.status_code == 400
    assert not user_row(app).two_factor

    secret, codes = enrol(client)

    assert len(codes) == 10 and len(set(codes)) == 10
    assert user_row(app).two_factor
    assert "Two-factor sign-in is on" in mailbox.messages()[-1]["Subject"]
    with app.app_context():
        stored = db.session().scalars(sa.select(RecoveryCode.code_hash)).all()
        factor = db.session().get(TotpFactor, ada.id)
    assert len(stored) == 10 and not any(c.replace("-", "") in stored for c in codes)
    assert factor is not None and secret not in factor.secret  # encrypted at rest
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "10 of 10 left" in page and not CODE_RE.search(page)  # never shown again


def test_after_a_right_password_nothing_opens_until_the_second_step(
    app: Flask, client: FlaskClient, ada_with_app: PortalUser
):
    answer = first_step(client)
    assert answer.headers["Location"].endswith("/login/verify")
    assert client.get("/").headers["Location"].startswith("/login")
    assert client.get("/account").status_code == 302

    done = second_step(client, app_code(app, "ada"))

    assert done.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_an_app_code_signs_in_once_even_when_posted_sixteen_times_at_once(
    app: Flask, ada_with_app: PortalUser
):
    clients = [app.test_client() for _ in range(16)]
    for c in clients:
        first_step(c)
    code = app_code(app, "ada")
    tokens = [csrf_token(c, "/login/verify") for c in clients]

    def post(pair: tuple[FlaskClient, str]) -> int:
        c, token = pair
        data = {"method": "app", "code": code, "csrf_token": token}
        return c.post("/login/verify", data=data).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, zip(clients, tokens, strict=True)))

    assert statuses.count(302) == 1, statuses
    assert set(statuses) <= {302, 401, 429}  # the replays count as wrong codes, then wait


def test_a_code_used_once_is_refused_the_second_time(app: Flask, ada_with_app: PortalUser):
    code = app_code(app, "ada")
    one, two = app.test_client(), app.test_client()
    first_step(one)
    first_step(two)
    assert second_step(one, code).status_code == 302
    assert second_step(two, code).status_code == 401


def test_full_width_digits_count_and_other_scripts_and_junk_are_simply_wrong(
    app: Flask, client: FlaskClient, ada_with_app: PortalUser
):
    first_step(client)
    code = app_code(app, "ada")
    for junk in ("٠١٢٣٤٥", "²²²²²²", "x" * 5000, "1" * 40, "12 34 5"):
        assert second_step(client, junk).status_code in (400, 401), junk
    wide = "".join(chr(0xFF10 + int(d)) for d in code)  # full-width digits
    assert second_step(client, wide).status_code == 302


def test_wrong_codes_make_the_next_try_wait(app: Flask, client: FlaskClient, ada_with_app):
    first_step(client)
    statuses = [second_step(client, f"{n:06d}").status_code for n in range(7)]
    assert statuses[-1] == 429
    page = second_step(client, app_code(app, "ada"))
    assert page.status_code == 429  # even the right code waits: guessing is slowed, not won


def test_a_recovery_code_signs_in_once(
    app: Flask, client: FlaskClient, ada: PortalUser, mailbox: Mailbox
):
    login(client, "ada")
    _, codes = enrol(client)
    post_form(client, "/logout", {}, page="/account")

    first_step(client)
    used = second_step(client, codes[3].upper(), method="recovery")
    assert used.headers["Location"] == "/"
    assert "9 left" in client.get("/").get_data(as_text=True)
    post_form(client, "/logout", {}, page="/account")

    first_step(client)
    assert second_step(client, codes[3], method="recovery").status_code == 401


def test_recovery_codes_sixteen_at_once_work_once(app: Flask, client, ada: PortalUser):
    login(client, "ada")
    _, codes = enrol(client)
    clients = [app.test_client() for _ in range(16)]
    for c in clients:
        first_step(c)
    tokens = [csrf_token(c, "/login/verify?method=recovery") for c in clients]

    def post(pair: tuple[FlaskClient, str]) -> int:
        c, token = pair
        data = {"method": "recovery", "code": codes[0], "csrf_token": token}
        return c.post("/login/verify", data=data).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, zip(clients, tokens, strict=True)))
    assert statuses.count(302) == 1, statuses


def test_new_recovery_codes_replace_the_old_ones(app: Flask, client, ada: PortalUser, mailbox):
    login(client, "ada")
    _, old = enrol(client)
    renewed = post_form(
        client, "/account/two-factor/recovery-codes", {}, page="/account/two-factor"
    )
    new = CODE_RE.findall(renewed.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    assert "New recovery codes" in mailbox.messages()[-1]["Subject"]
    other = app.test_client()
    first_step(other)
    assert second_step(other, old[0], method="recovery").status_code == 401
    assert second_step(other, new[0], method="recovery").status_code == 302


def test_an_e_mailed_code_is_the_fallback(
    app: Flask, client: FlaskClient, ada_with_app: PortalUser, mailbox: Mailbox
):
    first_step(client)
    sent = post_form(client, "/login/verify/email", {}, page="/login/verify?method=email")
    assert sent.headers["Location"].endswith("/login/verify?method=email")
    body = mailbox.last_body()
    code = re.search(r"^\s+(\d{6})$", body, re.M)
    assert code, body
    again = post_form(client, "/login/verify/email", {}, page="/login/verify?method=email")
    assert "less than a minute ago" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert len(mailbox.messages()) == 1

    assert second_step(client, code.group(1), method="email").headers["Location"] == "/"
    with app.app_context():
        assert db.session().scalar(sa.select(EmailCode.code_hash)) != code.group(1)


def test_an_e_mailed_code_dies_after_five_wrong_tries(
    app: Flask, client: FlaskClient, ada_with_app: PortalUser, mailbox: Mailbox
):
    first_step(client)
    post_form(client, "/login/verify/email", {}, page="/login/verify?method=email")
    code = re.search(r"^\s+(\d{6})$", mailbox.last_body(), re.M)
    assert code
    wrong = "000000" if code.group(1) != "000000" else "111111"
    for _ in range(5):
        second_step(client, wrong, method="email")
    with app.app_context(), db.transaction() as s:
        s.execute(sa.delete(sa.table("login_failure")))  # past the back-off, not the tries
    assert second_step(client, code.group(1), method="email").status_code == 401


def test_a_remembered_device_skips_the_second_step_until_revoked(
    app: Flask, client: FlaskClient, ada_with_app: PortalUser
):
    first_step(client)
    done = second_step(client, app_code(app, "ada"), remember=True)
    assert "portal_device=" in done.headers.get("Set-Cookie", "")
    post_form(client, "/logout", {}, page="/account")

    assert first_step(client).headers["Location"] == "/"  # no second step here
    assert "Remembered devices" in client.get("/account/two-factor").get_data(as_text=True)

    other = app.test_client()  # another browser still gets asked
    assert first_step(other).headers["Location"].endswith("/login/verify")

    post_form(client, "/account/two-factor/forget-devices", {}, page="/account/two-factor")
    post_form(client, "/logout", {}, page="/account")
    assert first_step(client).headers["Location"].endswith("/login/verify")


def test_a_password_change_forgets_remembered_devices(app: Flask, client, ada_with_app):
    first_step(client)
    second_step(client, app_code(app, "ada"), remember=True)
    new = "a-brand-new-passphrase-42"
    changed = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "confirm": new},
        page="/account",
    )
    assert changed.status_code == 302
    with app.app_context():
        live = db.session().scalars(
            sa.select(TrustedDevice).where(TrustedDevice.revoked_at.is_(None))
        )
        assert list(live) == []
    post_form(client, "/logout", {}, page="/account")
    assert first_step(client, password=new).headers["Location"].endswith("/login/verify")


def test_a_forged_or_foreign_device_cookie_is_not_trusted(app: Flask, client, make_user):
    make_user("ada", two_factor=True)
    make_user("bob", two_factor=True)
    first_step(client, "bob")
    second_step(client, app_code(app, "bob"), remember=True)
    post_form(client, "/logout", {}, page="/account")
    # Bob's remembered browser does not let Ada skip her second step...
    assert first_step(client, "ada").headers["Location"].endswith("/login/verify")
    # ...and a cookie edited by hand is ignored.
    forged = app.test_client()
    forged.set_cookie("portal_device", "eyJ1IjoxLCJ0IjoieCJ9.forged")
    assert first_step(forged, "ada").headers["Location"].endswith("/login/verify")


def test_the_first_step_expires_after_ten_minutes(app: Flask, client, ada_with_app):
    first_step(client)
    token = csrf_token(client, "/login/verify")
    with client.session_transaction() as cookie:
        pending = cookie["pending_login"]
        cookie["pending_login"] = {**pending, "at": pending["at"] - 11 * 60}
    data = {"method": "app", "code": app_code(app, "ada"), "csrf_token": token}
    answer = client.post("/login/verify", data=data)
    assert answer.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_the_second_step_keeps_where_the_customer_was_going(app: Flask, client, ada_with_app):
    token = csrf_token(client)
    client.post(
        "/login?next=/invoices",
        data={"identifier": "ada", "password": PASSWORD, "csrf_token": token},
    )
    assert second_step(client, app_code(app, "ada")).headers["Location"] == "/invoices"


def test_staff_without_a_second_factor_are_sent_to_set_one_up_first(
    app: Flask, client: FlaskClient, make_user
):
    make_user("boss", role=Role.ADMIN, two_factor=False)
    answer = first_step(client, "boss")
    assert answer.status_code == 302
    for path in ("/admin/", "/admin/payments", "/", "/account", "/payments"):
        moved = client.get(path)
        assert moved.status_code == 302, path
        assert moved.headers["Location"] == "/account/two-factor", path
    assert client.get("/account/two-factor").status_code == 200
    assert client.get("/no-such-page").status_code == 404

    enrol(client)

    assert client.get("/admin/").status_code == 200


def test_staff_cannot_remove_their_only_second_factor(app: Flask, client, make_user, mailbox):
    make_user("boss", role=Role.ADMIN)
    login(client, "boss")
    answer = post_form(client, "/account/two-factor/app/remove", {}, page="/account/two-factor")
    assert answer.headers["Location"] == "/account/two-factor"
    assert user_row(app, "boss").two_factor
    assert "must keep a second factor" in client.get("/account/two-factor").get_data(as_text=True)


def test_a_customer_turns_the_app_off_and_is_told(app: Flask, client, ada: PortalUser, mailbox):
    login(client, "ada")
    enrol(client)
    first_step(app.test_client())
    post_form(client, "/account/two-factor/app/remove", {}, page="/account/two-factor")
    row = user_row(app)
    assert not row.two_factor
    assert "Two-factor sign-in is off" in mailbox.messages()[-1]["Subject"]
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    post_form(client, "/logout", {}, page="/account")
    assert first_step(client).headers["Location"] == "/"


def _age_sessions(app: Flask, minutes: int) -> None:
    with app.app_context(), db.transaction() as s:
        s.execute(sa.update(LoginSession).values(verified_at=utcnow() - timedelta(minutes=minutes)))


def test_a_security_change_after_ten_minutes_asks_who_you_are_first(
    app: Flask, client: FlaskClient, ada: PortalUser
):
    login(client, "ada")
    _age_sessions(app, 11)

    token = csrf_token(client, "/account")
    asked = client.post("/account/username", data={"username": "ada2", "csrf_token": token})
    assert asked.headers["Location"] == "/account/confirm?next=/account"
    assert user_row(app).username == "ada"  # nothing was done
    assert client.get("/account/two-factor/app").headers["Location"].startswith("/account/confirm")

    wrong = post_form(
        client,
        "/account/confirm",
        {"secret": "not-my-password", "next": "/account"},
        page="/account/confirm",
    )
    assert wrong.status_code == 400
    right = post_form(
        client,
        "/account/confirm",
        {"secret": PASSWORD, "next": "/account"},
        page="/account/confirm",
    )
    assert right.headers["Location"] == "/account"
    done = post_form(client, "/account/username", {"username": "ada2"}, page="/account")
    assert done.status_code == 302 and user_row(app, "ada2")


def test_step_up_accepts_an_app_code_and_refuses_to_leave_the_site(
    app: Flask, client, ada_with_app
):
    login(client, "ada")
    _age_sessions(app, 30)
    answer = post_form(
        client,
        "/account/confirm",
        {"secret": app_code(app, "ada"), "next": "//evil.example/"},
        page="/account/confirm",
    )
    assert answer.headers["Location"] == "/account"
    assert client.get("/account/two-factor").status_code == 200


def test_removing_a_payment_method_asks_for_step_up(
    app: Flask, client: FlaskClient, ada: PortalUser
):
    from tests.rows import saved_card

    assert ada.customer_id is not None
    with app.app_context(), db.transaction() as s:
        card = saved_card(ada.customer_id)
        s.add(card)
        s.flush()
        card_id = card.id
    login(client, "ada")
    _age_sessions(app, 11)
    answer = post_form(
        client, f"/payment-methods/{card_id}/remove", {"confirmed": "1"}, page="/payment-methods"
    )
    assert answer.headers["Location"] == "/account/confirm?next=/payment-methods"
    moved = post_form(client, f"/payment-methods/{card_id}/default", {}, page="/payment-methods")
    assert moved.headers["Location"].startswith("/account/confirm")


def test_a_wrong_second_step_code_shows_in_the_sign_in_history(app: Flask, ada_with_app):
    client = app.test_client()
    login(client, "ada")
    intruder = app.test_client()  # knows the password, not the phone
    first_step(intruder)
    right = app_code(app, "ada")
    assert second_step(intruder, f"{(int(right) + 500_000) % 1_000_000:06d}").status_code == 401
    page = client.get("/account/security").get_data(as_text=True)
    assert "Wrong second-step code" in page


def test_the_qr_code_scales_with_the_screen_instead_of_being_cropped(client, ada) -> None:
    login(client, "ada")
    page = client.get("/account/two-factor/app").get_data(as_text=True)
    svg = re.search(r"<svg[^>]*class=\"segno\"[^>]*>", page)
    assert svg is not None and "viewBox" in svg.group(0) and "width=" not in svg.group(0)
