"""Removing a notice asks first: the first POST shows "Are you sure?" and only the POST with
confirm=1 removes it (the other confirmations are tested beside their pages)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from portal import db
from portal.accounts.models import Role
from portal.billing.notices import Notice
from tests.conftest import login, post_form


def test_removing_a_notice_asks_first_and_only_the_confirmed_post_removes_it(app, make_user):
    make_user("boss", role=Role.ADMIN)
    boss = app.test_client()
    login(boss, "boss")
    post_form(boss, "/admin/notices", {"title": "Maintenance", "body": "Portal down Sunday."})
    with app.app_context():
        notice_id = db.session().scalar(sa.select(Notice.id))
    path = f"/admin/notices/{notice_id}/delete"
    asked = post_form(boss, path, {}, page="/admin/notices")
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "Remove \u201cMaintenance\u201d?" in page and 'name="confirm" value="1"' in page
    with app.app_context():
        assert db.session().get(Notice, notice_id) is not None
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    done = boss.post(path, data={"csrf_token": token, "confirm": "1"})
    assert done.status_code == 302
    with app.app_context():
        assert db.session().get(Notice, notice_id) is None
    missing = post_form(boss, "/admin/notices/999999/delete", {}, page="/admin/notices")
    assert missing.status_code == 404
