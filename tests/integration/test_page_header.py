"""Every page's header: a skip link first, the brand leading to each visitor's home page, a
menu button naming the nav it folds, and the current page marked in that nav."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from portal.accounts.models import Role
from tests.conftest import login

BRAND = re.compile(r'<a class="brand" href="([^"]+)"')


@pytest.mark.parametrize(
    ("role", "home"),
    [(None, "/login"), (Role.CUSTOMER, "/"), (Role.BOOKKEEPER, "/admin/"), (Role.ADMIN, "/admin/")],
)
def test_the_brand_leads_each_visitor_home(client: FlaskClient, make_user, role, home):
    if role is not None:
        make_user("someone", role=role)
        login(client, "someone")
    page = client.get("/account" if role else "/login").get_data(as_text=True)
    assert BRAND.findall(page) == [home]


def test_the_skip_link_comes_first_and_the_menu_names_its_nav(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    page = client.get("/invoices").get_data(as_text=True)
    body = page.split("<body>", 1)[1]
    assert re.search(r"<(a|button|input|select|textarea)\b[^>]*>", body).group(0) == (
        '<a class="skip-link" href="#main">'
    )
    assert '<main id="main" tabindex="-1">' in page
    assert 'aria-expanded="false" aria-controls="site-nav"' in page
    assert '<nav id="site-nav" aria-label="Main">' in page
    assert '<a href="/invoices" aria-current="page">Invoices</a>' in page
    assert '<a href="/payments" aria-current' not in page
