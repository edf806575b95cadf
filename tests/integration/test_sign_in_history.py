"""The security page lists the user's recent sign-ins, successful and failed, and no one else's."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts import history
from portal.accounts.models import LoginSession
from portal.db import utcnow
from tests.conftest import login

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def _browser(app: Flask, user_agent: str, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    return client


def _history(client: FlaskClient) -> str:
    page = client.get("/account/security").get_data(as_text=True)
    return page.split("Recent sign-ins", 1)[1]


def test_the_history_shows_a_users_sign_ins_and_failures_newest_first(app, make_user):
    make_user("ada")
    ada = _browser(app, FIREFOX, "198.51.100.7")
    login(ada, "ada")
    assert login(_browser(app, SAFARI, "203.0.113.9"), "ada", "wrong-guess").status_code == 401
    history = _history(ada)
    assert "Firefox on Windows" in history and "198.51.100.7" in history
    assert "203.0.113.9" in history
    assert history.index("Failed") < history.index("Signed in")  # the failure came later
    assert '<td data-label="When">' in history


def test_the_history_never_shows_another_users_sign_ins_or_failures(app, make_user):
    make_user("ada")
    make_user("bob")
    ada = _browser(app, FIREFOX, "198.51.100.7")
    login(ada, "ada")
    login(_browser(app, SAFARI, "192.0.2.44"), "bob", "wrong-guess")
    login(_browser(app, SAFARI, "192.0.2.45"), "bob")
    history = _history(ada)
    assert "192.0.2.44" not in history and "192.0.2.45" not in history
    assert "iPhone" not in history and "Failed" not in history
    assert len(re.findall(r"Signed in</td>", history)) == 1


def test_the_history_keeps_the_last_20_of_the_past_90_days(app, make_user):
    ada = make_user("ada")
    now = utcnow()
    with app.app_context(), db.transaction() as s:
        s.add(LoginSession(token_hash="old", user_id=ada.id, created_at=now - timedelta(days=91)))
        for n in range(25):
            at = now - timedelta(hours=n)
            s.add(LoginSession(token_hash=f"t{n}", user_id=ada.id, created_at=at))
    with app.app_context():
        rows = history.recent(db.session(), ada.id, now)
    assert len(rows) == 20
    assert rows[0].at > rows[-1].at > now - timedelta(days=90)
