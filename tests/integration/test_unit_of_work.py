"""One unit of work for views and jobs: hooks waiting for a commit run however it is called."""

from __future__ import annotations

import pytest
from flask import Flask

from portal import db
from portal.billing.models import Customer


def test_a_direct_commit_runs_what_waited_for_it(app: Flask):
    ran: list[str] = []
    with app.extensions["portal.db"].sessions() as s:
        s.add(Customer(realm_id="r", qbo_id="1", display_name="Ada"))
        db.after_commit(s, lambda: ran.append("mail"))
        assert ran == []
        s.commit()  # a job's plain commit, not db.commit()
    assert ran == ["mail"]


def test_a_rollback_or_a_failed_commit_drops_the_hooks(app: Flask):
    ran: list[str] = []
    with app.extensions["portal.db"].sessions() as s:
        db.after_commit(s, lambda: ran.append("rolled back"))
        s.rollback()
        s.commit()
        s.add(Customer(realm_id="r", qbo_id="2", display_name="Ada"))
        s.add(Customer(realm_id="r", qbo_id="2", display_name="Ada again"))  # not unique
        db.after_commit(s, lambda: ran.append("failed"))
        with pytest.raises(Exception, match=r"UNIQUE|unique|duplicate"):
            s.commit()
        s.rollback()
        s.commit()
    assert ran == []
