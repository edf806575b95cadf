"""Passkeys in the audit log: added, removed, and a refused passkey sign-in, once each."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.audit_rows import actions, events
from tests.conftest import login, post_form
from tests.integration import test_passkeys as passkey_tests
from tests.integration.test_passkeys import PUBLIC, add_passkey, keys_of, log_out, sign_in
from tests.softauthn import SoftAuthenticator

# The passkey suite's https portal, browser and authenticator.
settings, client, authn = passkey_tests.settings, passkey_tests.client, passkey_tests.authn


def test_a_passkey_added_and_removed_is_recorded_once_each(
    app: Flask, client: FlaskClient, make_user, authn: SoftAuthenticator
):
    ada = make_user("ada")
    login(client, "ada")
    assert add_passkey(client, authn, "Laptop").status_code == 200
    [key] = keys_of(app, "ada")
    post_form(client, f"/account/passkeys/{key.id}/remove", {}, page="/account")
    assert actions(app) == ["login", "passkey.added", "passkey.removed"]
    added, removed = events(app)[1:]
    assert 'passkey "Laptop"' in added.summary and 'passkey "Laptop"' in removed.summary
    assert {added.customer_id, removed.customer_id} == {ada.customer_id}
    assert {added.actor_user_id, removed.actor_user_id} == {ada.id}


def test_a_passkey_sign_in_is_a_login_and_an_unknown_passkey_a_failed_one(
    app: Flask, client: FlaskClient, make_user, authn: SoftAuthenticator
):
    ada = make_user("ada")
    login(client, "ada")
    add_passkey(client, authn)
    log_out(client)
    assert sign_in(client, authn).status_code == 200
    log_out(client)
    stranger = SoftAuthenticator(origin=PUBLIC)
    stranger.create(
        {"rp": {"id": "portal.example.com"}, "user": {"id": "AAAAAAAAAAE"}, "challenge": "AA"}
    )
    assert sign_in(client, stranger).status_code == 400
    assert actions(app)[-3:] == ["login", "logout", "login.failed"]
    failed = events(app, "login.failed")[0]
    assert failed.customer_id is None and "passkey refused" in failed.summary
    signed_in = events(app, "login")[-1]
    assert signed_in.actor_user_id == ada.id and signed_in.customer_id == ada.customer_id
