"""Customers get a login by invitation: no account number, a username they choose."""

from __future__ import annotations

from urllib.parse import urlsplit

from click.testing import CliRunner
from flask.testing import FlaskClient

from portal.accounts.models import Role
from portal.cli import main
from tests.conftest import PASSWORD, Mailbox, login, post_form


def test_admin_invites_a_customer_who_chooses_a_username(
    client: FlaskClient, make_user, make_customer, mailbox: Mailbox
):
    customer = make_customer("Oak Street Bakery", email="accounts@oak.example")
    make_user("boss", role=Role.ADMIN)
    login(client, "boss")
    sent = post_form(
        client,
        "/admin/invite",
        {"customer_id": str(customer.id), "email": "accounts@oak.example"},
        page="/admin/",
    )
    assert sent.status_code == 302
    assert mailbox.messages()[-1]["To"] == "accounts@oak.example"
    path = urlsplit(mailbox.last_link()).path
    guest = client.application.test_client()
    page = guest.get(path)
    assert "accounts@oak.example" in page.get_data(as_text=True)
    created = post_form(
        guest, path, {"username": "oakbakery", "new_password": PASSWORD, "confirm": PASSWORD}
    )
    assert created.status_code == 302
    assert "Oak Street Bakery" in guest.get("/").get_data(as_text=True)
    assert guest.get(path).status_code == 400  # the invitation is used up
    assert login(client.application.test_client(), "accounts@oak.example").status_code == 302


def test_invitation_refuses_a_taken_username_and_keeps_the_link_usable(
    client: FlaskClient, make_user, make_customer, mailbox: Mailbox, app
):
    make_user("taken")
    customer = make_customer("Ada")
    runner = CliRunner()
    config = app.config["PORTAL_SETTINGS"]
    env = {"PORTAL_CONFIG": str(config.instance / "config.toml")}
    result = runner.invoke(
        main,
        ["users", "invite", "--customer", customer.qbo_id, "--email", "ada@example.com"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    path = urlsplit(mailbox.last_link()).path
    refused = post_form(
        client, path, {"username": "TAKEN", "new_password": PASSWORD, "confirm": PASSWORD}
    )
    assert refused.status_code == 400
    assert "That username is taken" in refused.get_data(as_text=True)
    ok = post_form(client, path, {"username": "ada", "new_password": PASSWORD, "confirm": PASSWORD})
    assert ok.status_code == 302


def test_cli_invite_names_a_missing_customer(app):
    config = app.config["PORTAL_SETTINGS"]
    result = CliRunner().invoke(
        main,
        ["users", "invite", "--customer", "nope", "--email", "a@example.com"],
        env={"PORTAL_CONFIG": str(config.instance / "config.toml")},
    )
    assert result.exit_code == 1
    assert "no customer match 'nope'" in result.output
