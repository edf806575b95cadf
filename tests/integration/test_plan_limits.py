"""The admin sets the limits on payment plans; a plan outside them is refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal.accounts.models import Role
from portal.autopay import limits as plan_limits
from portal.autopay.models import PlanLimits
from portal.autopay.service import AutopayRefused, make_plan
from portal.payments.models import SavedMethod
from tests.conftest import login, post_form
from tests.rows import saved_card

PAGE = "/admin/plan-limits"


@pytest.fixture
def admin(app: Flask, make_user):
    make_user("boss", role=Role.ADMIN)
    client = app.test_client()
    login(client, "boss")
    return client


def stored(app: Flask) -> PlanLimits | None:
    with app.app_context():
        return db.session().get(PlanLimits, 1)


def test_the_admin_sets_the_limits_and_a_plan_outside_them_is_refused(
    app: Flask, admin, make_customer, make_invoice
):
    page = admin.get(PAGE).get_data(as_text=True)
    assert 'value="12"' in page and 'value="25.00"' in page  # [autopay]'s, until saved
    saved = post_form(admin, PAGE, {"count": "3", "minimum": "40.00"})
    assert saved.status_code == 302
    row = stored(app)
    assert row is not None and (row.max_installments, row.min_installment) == (3, Decimal("40.00"))

    ada = make_customer("Ada")
    make_invoice(ada, "300.00", due=date(2026, 1, 1))
    with app.app_context(), db.transaction() as s:
        s.add(saved_card(ada.id))
        s.flush()
        method = s.scalar(sa.select(SavedMethod.id))
        limits = plan_limits.current(s, app.config["PORTAL_SETTINGS"].autopay)
        assert method is not None
        with pytest.raises(AutopayRefused, match="from 2 to 3"):
            make_plan(s, ada.id, method, 4, date(2026, 3, 1), None, limits)
    with app.app_context(), db.transaction() as s:
        limits = plan_limits.current(s, app.config["PORTAL_SETTINGS"].autopay)
        with pytest.raises(AutopayRefused, match=r"at least 150\.00"):
            make_plan(s, ada.id, method, 3, date(2026, 3, 1), None, Limits(limits, "150.00"))
        plan = make_plan(s, ada.id, method, 3, date(2026, 3, 1), None, limits)
        assert [i.amount for i in plan.installments] == [Decimal("100.00")] * 3


def Limits(base, minimum: str):
    import dataclasses

    return dataclasses.replace(base, plan_min_installment=minimum)


@pytest.mark.parametrize(
    ("count", "minimum"),
    [
        ("abc", "25.00"),
        ("\u0663", "25.00"),  # an Arabic-Indic three
        ("\u00b2", "25.00"),
        ("1", "25.00"),
        ("61", "25.00"),
        ("9" * 40, "25.00"),
        ("2.5", "25.00"),
        ("3", "-1"),
        ("3", "0"),
        ("3", "NaN"),
        ("3", "Infinity"),
        ("3", "1e3"),
        ("3", "25.001"),
        ("3", "\uff12\uff15"),  # full-width digits
        ("3", "100000.01"),
    ],
)
def test_limits_that_are_not_whole_ascii_numbers_in_range_are_refused(
    app: Flask, admin, count: str, minimum: str
):
    answer = post_form(admin, PAGE, {"count": count, "minimum": minimum})
    assert answer.status_code == 400
    assert stored(app) is None


def test_only_admins_see_the_plan_limits(app: Flask, make_user):
    make_user("keeper", role=Role.BOOKKEEPER)
    make_user("ada")
    for name in ("keeper", "ada"):
        client = app.test_client()
        login(client, name)
        assert client.get(PAGE).status_code == 404
