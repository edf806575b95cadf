"""Passkeys end to end through the JSON endpoints, with a software authenticator standing in
for the browser: adding, naming, removing, signing in without a password or as the second
step, confirming who you are, and every answer that must be refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import LoginSession, Passkey, PortalUser, RecoveryCode, Role
from portal.config import Settings, load_settings
from portal.db import utcnow
from tests.conftest import PASSWORD, Mailbox, csrf_token, login, post_form, text_of, write_config
from tests.softauthn import SoftAuthenticator, b64url

HOST = "portal.example.com"
PUBLIC = f"https://{HOST}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The portal as customers reach it, over https."""
    config = write_config(tmp_path, database_url, portal={"public_url": PUBLIC})
    return load_settings(config, environ={})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser over https (the test client's scheme follows public_url), whose requests
    name their page as the referrer, which CSRF checks on https."""
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    return client


@pytest.fixture
def authn() -> SoftAuthenticator:
    return SoftAuthenticator(origin=PUBLIC)


def post_json(client: FlaskClient, path: str, body: dict[str, Any], page: str) -> Any:
    """POST JSON as passkeys.js does, with the CSRF token of `page` in X-CSRFToken."""
    token = csrf_token(client, page)
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def add_passkey(
    client: FlaskClient, authn: SoftAuthenticator, name: str = "Laptop", **answer: Any
) -> Any:
    page = "/account/confirm"  # a form page even staff without a second factor may see
    options = post_json(client, "/account/passkeys/options", {}, page)
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authn.create(options.get_json(), **answer)
    return post_json(client, "/account/passkeys", {"credential": credential, "name": name}, page)


def sign_in_options(client: FlaskClient, page: str = "/login") -> dict[str, Any]:
    response = post_json(client, "/login/passkey/options", {}, page)
    assert response.status_code == 200
    options: dict[str, Any] = response.get_json()
    return options


def answer_sign_in(client: FlaskClient, credential: dict[str, Any], page: str = "/login") -> Any:
    return post_json(client, "/login/passkey", {"credential": credential}, page)


def sign_in(
    client: FlaskClient, authn: SoftAuthenticator, page: str = "/login", **answer: Any
) -> Any:
    return answer_sign_in(client, authn.get(sign_in_options(client, page), **answer), page)


def log_out(client: FlaskClient) -> None:
    post_form(client, "/logout", {}, page="/account")


def keys_of(app: Flask, username: str) -> list[Passkey]:
    with app.app_context():
        s = db.session()
        user = s.scalar(sa.select(PortalUser).where(PortalUser.username == username))
        assert user is not None
        return list(
            s.scalars(sa.select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id))
        )


def user_named(app: Flask, username: str) -> PortalUser:
    with app.app_context():
        user = db.session().scalar(sa.select(PortalUser).where(PortalUser.username == username))
        assert user is not None
        return user


def subjects(mailbox: Mailbox) -> list[str]:
    return [str(m["Subject"]) for m in mailbox.messages()]


def test_a_customer_adds_two_passkeys_names_them_and_removes_them(
    app: Flask, client: FlaskClient, make_user: Callable[..., PortalUser], authn
):
    make_user("ada")
    login(client, "ada")
    assert add_passkey(client, authn, "Laptop").status_code == 200
    assert add_passkey(client, SoftAuthenticator(origin=PUBLIC), "Phone").status_code == 200
    page = client.get("/account/passkeys").get_data(as_text=True)
    assert "Laptop" in page and "Phone" in page
    laptop, phone = keys_of(app, "ada")
    assert laptop.transports == "internal"

    renamed = post_form(
        client, f"/account/passkeys/{laptop.id}/name", {"name": "  Work\tlaptop "}, page="/account"
    )
    assert renamed.status_code == 302
    assert [k.name for k in keys_of(app, "ada")] == ["Work laptop", "Phone"]
    too_long = post_form(
        client, f"/account/passkeys/{laptop.id}/name", {"name": "x" * 61}, page="/account"
    )
    assert too_long.status_code == 302
    assert "up to 60 characters" in client.get("/account/passkeys").get_data(as_text=True)

    post_form(client, f"/account/passkeys/{phone.id}/remove", {}, page="/account")
    assert [k.name for k in keys_of(app, "ada")] == ["Work laptop"]
    assert user_named(app, "ada").two_factor
    post_form(client, f"/account/passkeys/{laptop.id}/remove", {}, page="/account")
    assert keys_of(app, "ada") == []
    assert not user_named(app, "ada").two_factor  # a customer may go back to a password


def test_the_first_passkey_turns_two_factor_on_and_shows_recovery_codes_once(
    app: Flask, client: FlaskClient, make_user, authn, mailbox: Mailbox
):
    make_user("ada")
    login(client, "ada")
    first = add_passkey(client, authn, "Laptop")
    codes = first.get_json()["codes"]
    assert len(codes) == 10 and all(len(c) == 11 and c[5] == "-" for c in codes)
    assert first.headers["Cache-Control"] == "no-store"
    assert not any(c in first.headers.get("Set-Cookie", "") for c in codes)
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 10
    second = add_passkey(client, SoftAuthenticator(origin=PUBLIC), "Phone")
    assert second.get_json()["codes"] == []
    sent = subjects(mailbox)
    assert sum("A passkey was added" in s for s in sent) == 2
    assert sum("Two-factor sign-in is on" in s for s in sent) == 1
    assert 'named "Laptop"' in "".join(text_of(m) for m in mailbox.messages())


def test_removing_the_last_passkey_turns_two_factor_off_and_says_so(
    app: Flask, client: FlaskClient, make_user, authn, mailbox: Mailbox
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    (key,) = keys_of(app, "ada")
    post_form(client, f"/account/passkeys/{key.id}/remove", {}, page="/account")
    assert any("Two-factor sign-in is off" in s for s in subjects(mailbox))
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0


def test_the_same_authenticator_cannot_add_a_second_passkey_to_one_account(
    client: FlaskClient, make_user, authn
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    options = post_json(client, "/account/passkeys/options", {}, "/account").get_json()
    assert len(options["publicKey"]["excludeCredentials"]) == 1
    with pytest.raises(ValueError, match="InvalidStateError"):
        authn.create(options)


def test_a_passkey_signs_in_without_a_password(app: Flask, client: FlaskClient, make_user, authn):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    options = sign_in_options(client)
    assert options["publicKey"]["allowCredentials"] == []  # the browser offers its passkeys
    assert options["publicKey"]["userVerification"] == "required"
    response = answer_sign_in(client, authn.get(options))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"redirect": "/"}
    assert client.get("/").status_code == 200
    (key,) = keys_of(app, "ada")
    assert key.sign_count == 1 and key.last_used_at is not None


def test_a_passwordless_sign_in_goes_where_the_login_page_was_sent_from(
    client: FlaskClient, make_user, authn
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    options = sign_in_options(client)
    body = {"credential": authn.get(options), "next": "/invoices"}
    response = post_json(client, "/login/passkey", body, "/login")
    assert response.get_json() == {"redirect": "/invoices"}


def test_a_passkey_without_user_verification_cannot_sign_in_alone(
    client: FlaskClient, make_user, authn
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    authn.user_verified = False
    response = sign_in(client, authn)
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_a_passkey_is_the_second_step_after_the_password(
    app: Flask, client: FlaskClient, make_user, authn
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    first = post_form(client, "/login", {"identifier": "ada", "password": PASSWORD})
    assert first.headers["Location"].endswith("/login/verify")
    options = sign_in_options(client, "/login/verify")
    (key,) = keys_of(app, "ada")
    assert [c["id"] for c in options["publicKey"]["allowCredentials"]] == [
        b64url(key.credential_id)
    ]
    response = answer_sign_in(client, authn.get(options), "/login/verify")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"redirect": "/"}
    assert client.get("/").status_code == 200


def test_someone_elses_passkey_is_not_the_second_step(client: FlaskClient, make_user, authn):
    make_user("ada")
    make_user("bob")
    bobs = SoftAuthenticator(origin=PUBLIC)
    login(client, "bob")
    add_passkey(client, bobs)
    log_out(client)
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    post_form(client, "/login", {"identifier": "ada", "password": PASSWORD})
    options = sign_in_options(client, "/login/verify")
    (bobs_id,) = bobs.credentials
    response = answer_sign_in(client, bobs.get(options, credential_id=bobs_id), "/login/verify")
    assert response.status_code == 400
    assert "not one of this account's" in response.get_json()["error"]
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "relying party"),
    ],
)
def test_an_answer_for_another_site_is_refused(
    client: FlaskClient, make_user, authn, answer: dict[str, str], why: str
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    response = sign_in(client, authn, **answer)
    assert response.status_code == 400, why
    assert client.get("/").status_code == 302


def test_a_passkey_made_for_another_site_is_not_added(client: FlaskClient, make_user, authn):
    make_user("ada")
    login(client, "ada")
    assert add_passkey(client, authn, origin="https://evil.example").status_code == 400
    assert add_passkey(client, authn, rp_id="evil.example").status_code == 400
    assert add_passkey(client, SoftAuthenticator(PUBLIC, user_verified=False)).status_code == 400
    assert keys_of(client.application, "ada") == []


def test_a_challenge_answers_once(client: FlaskClient, make_user, authn):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    answer = authn.get(sign_in_options(client))
    assert answer_sign_in(client, answer).status_code == 200
    log_out(client)
    again = answer_sign_in(client, answer)
    assert again.status_code == 400
    assert "already used" in again.get_json()["error"]


def test_an_answer_replayed_with_a_copy_of_the_old_cookie_is_refused(
    client: FlaskClient, make_user
):
    make_user("ada")
    login(client, "ada")
    synced = SoftAuthenticator(origin=PUBLIC, counter=False)  # counters stay 0, as synced ones do
    add_passkey(client, synced)
    log_out(client)
    answer = synced.get(sign_in_options(client))
    copied = client.get_cookie("portal_session")
    assert copied is not None
    token = csrf_token(client, "/login")
    assert answer_sign_in(client, answer).status_code == 200
    log_out(client)
    client.set_cookie("portal_session", copied.value)
    again = client.post(
        "/login/passkey", json={"credential": answer}, headers={"X-CSRFToken": token}
    )
    assert again.status_code == 400
    assert client.get("/").status_code == 302


def test_a_passkey_whose_counter_goes_backwards_is_refused_as_a_copy(
    client: FlaskClient, make_user, authn
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    copy = authn.clone()
    assert sign_in(client, authn).status_code == 200
    log_out(client)
    assert sign_in(client, authn).status_code == 200
    log_out(client)
    response = sign_in(client, copy)
    assert response.status_code == 400
    assert "counter went backwards" in response.get_json()["error"]


def test_an_unknown_passkey_is_refused(client: FlaskClient, make_user, authn):
    make_user("ada")
    stranger = SoftAuthenticator(origin=PUBLIC)
    stranger.create(
        {"rp": {"id": "portal.example.com"}, "user": {"id": "AAAAAAAAAAE"}, "challenge": "AA"}
    )
    response = sign_in(client, stranger)
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_wrong_passkey_answers_are_slowed_down(client: FlaskClient, make_user, authn):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    post_form(client, "/login", {"identifier": "ada", "password": PASSWORD})
    statuses = [
        sign_in(client, authn, "/login/verify", origin="https://evil.example").status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [400] * 5
    assert statuses[5] == 429
    refused = sign_in(client, authn, "/login/verify")  # even the right passkey waits
    assert refused.status_code == 429
    assert "Try again in" in refused.get_json()["error"]


def test_one_customer_cannot_rename_or_remove_anothers_passkey(
    app: Flask, client: FlaskClient, make_user, authn
):
    make_user("ada")
    make_user("bob")
    login(client, "bob")
    add_passkey(client, authn, "Bob's phone")
    log_out(client)
    (bobs,) = keys_of(app, "bob")
    login(client, "ada")
    page = "/account"
    renamed = post_form(client, f"/account/passkeys/{bobs.id}/name", {"name": "Mine"}, page=page)
    assert renamed.status_code == 404
    assert (
        post_form(client, f"/account/passkeys/{bobs.id}/remove", {}, page=page).status_code == 404
    )
    assert [k.name for k in keys_of(app, "bob")] == ["Bob's phone"]


def test_staff_cannot_remove_their_last_second_factor(
    app: Flask, client: FlaskClient, make_user, authn
):
    make_user("keeper", role=Role.BOOKKEEPER, two_factor=False)
    login(client, "keeper")
    assert client.get("/admin/").status_code == 302  # sent to set up a second factor first
    assert add_passkey(client, authn).status_code == 200
    (key,) = keys_of(app, "keeper")
    response = post_form(client, f"/account/passkeys/{key.id}/remove", {}, page="/account/confirm")
    assert response.status_code == 302
    assert "must keep a second factor" in client.get("/account/passkeys").get_data(as_text=True)
    assert len(keys_of(app, "keeper")) == 1
    assert user_named(app, "keeper").two_factor


def test_staff_with_an_authenticator_app_may_remove_a_passkey(
    app: Flask, client: FlaskClient, make_user, authn
):
    make_user("boss", role=Role.ADMIN)  # comes with an authenticator app
    login(client, "boss")
    add_passkey(client, authn)
    (key,) = keys_of(app, "boss")
    post_form(client, f"/account/passkeys/{key.id}/remove", {}, page="/account")
    assert keys_of(app, "boss") == []
    assert user_named(app, "boss").two_factor


def _stale(app: Flask, username: str) -> None:
    """Make the user's sessions' last proof of who they are an hour old."""
    user = user_named(app, username)
    with app.app_context(), db.transaction() as s:
        s.execute(
            sa.update(LoginSession)
            .where(LoginSession.user_id == user.id)
            .values(verified_at=utcnow() - timedelta(hours=1))
        )


def test_a_passkey_confirms_it_is_you_before_a_security_change(
    app: Flask, client: FlaskClient, make_user, authn
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    _stale(app, "ada")
    asked = client.get("/account/passkeys")
    assert asked.status_code == 302 and "/account/confirm" in asked.headers["Location"]
    confirm_page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "data-passkey-confirm" in confirm_page
    assert 'data-next="/account/passkeys"' in confirm_page
    options = post_json(client, "/account/confirm/passkey/options", {}, "/account/confirm")
    assert options.status_code == 200
    assert len(options.get_json()["publicKey"]["allowCredentials"]) == 1
    body = {"credential": authn.get(options.get_json()), "next": "/account/passkeys"}
    done = post_json(client, "/account/confirm/passkey", body, "/account/confirm")
    assert done.get_json() == {"redirect": "/account/passkeys"}
    assert client.get("/account/passkeys").status_code == 200


def test_a_confirmation_goes_only_to_a_path_on_this_site(
    app: Flask, client: FlaskClient, make_user, authn
):
    make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    options = post_json(client, "/account/confirm/passkey/options", {}, "/account/confirm")
    body = {"credential": authn.get(options.get_json()), "next": "//evil.example/"}
    done = post_json(client, "/account/confirm/passkey", body, "/account/confirm")
    assert done.get_json() == {"redirect": "/account"}


def test_adding_a_passkey_waits_for_a_fresh_confirmation(
    app: Flask, client: FlaskClient, make_user, authn
):
    make_user("ada")
    login(client, "ada")
    _stale(app, "ada")
    token = csrf_token(client, "/login")
    response = client.post("/account/passkeys/options", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert "/account/confirm" in response.headers["Location"]


def test_passkey_posts_without_the_csrf_token_are_refused(client: FlaskClient, make_user):
    make_user("ada")
    assert client.post("/login/passkey/options", json={}).status_code == 400


def test_on_localhost_the_requests_own_origin_counts_at_any_port(
    tmp_path: Path, database_url: str, make_user
):
    from portal.app import create_app

    config = write_config(tmp_path, database_url, portal={"public_url": "http://localhost:5000"})
    local = create_app({"SETTINGS": load_settings(config, environ={}), "ARGON2_CHEAP": True})
    try:
        client = local.test_client()
        here = "http://localhost"  # the test client's requests come to localhost, port 80
        make_user("ada")
        login(client, "ada")
        assert add_passkey(client, SoftAuthenticator(origin=here)).status_code == 200
        other_port = SoftAuthenticator(origin="http://localhost:9999")
        assert add_passkey(client, other_port).status_code == 400
    finally:
        local.extensions["portal.db"].engine.dispose()


def test_a_passkey_added_without_a_name_is_named_after_the_device(
    app: Flask, client: FlaskClient, make_user, authn
):
    make_user("ada")
    client.environ_base["HTTP_USER_AGENT"] = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
    )
    login(client, "ada")
    assert add_passkey(client, authn, "").status_code == 200
    assert [k.name for k in keys_of(app, "ada")] == ["Firefox on Windows"]
