"""Each login's preferences: theme, text size and dashboard widgets, validated against
whitelists and never shared between logins."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from portal import db
from portal.accounts import preferences
from portal.accounts.models import Role
from tests.conftest import login, post_form

PAGE = "/account/preferences"
ALL = ["balance", "invoices", "activity", "chart", "news", "services"]


def save(client: FlaskClient, **fields: object) -> object:
    data: dict[str, object] = {"theme": "auto", "text_size": "normal", "order": ALL, "show": ALL}
    data.update(fields)
    return post_form(client, PAGE, data)  # type: ignore[arg-type]


def html_attrs(client: FlaskClient, path: str = "/account") -> tuple[str, str]:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'<html lang="en" data-theme="(\w+)" data-text="(\w+)">', page)
    assert match, page[:200]
    return match.group(1), match.group(2)


def test_the_account_page_leads_to_preferences(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    assert 'href="/account/preferences"' in client.get("/account").get_data(as_text=True)
    assert client.get(PAGE).status_code == 200


def test_a_saved_theme_and_text_size_are_on_every_page(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    assert html_attrs(client) == ("auto", "normal")
    response = save(client, theme="dark", text_size="larger")
    assert response.status_code == 302
    assert html_attrs(client) == ("dark", "larger")
    assert html_attrs(client, "/") == ("dark", "larger")


def test_a_theme_or_size_outside_the_list_is_refused_and_nothing_changes(
    client: FlaskClient, make_user
):
    make_user("ada")
    login(client, "ada")
    response = save(client, theme="neon", text_size="huge")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose a theme: Automatic" in page and "Choose a text size: Normal" in page
    assert html_attrs(client) == ("auto", "normal")


def test_a_tampered_widget_list_is_refused(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    assert save(client, order=ALL[:-1]).status_code == 400
    assert save(client, order=[*ALL[:-1], "ads"]).status_code == 400
    assert save(client, show=["balance", "ads"]).status_code == 400
    refused = save(client, move="chart:sideways")
    assert refused.status_code == 400
    assert "That move was not understood" in refused.get_data(as_text=True)


def test_move_up_and_down_reorder_and_unticked_widgets_are_hidden(
    app, client: FlaskClient, make_user
):
    ada = make_user("ada")
    login(client, "ada")
    moved = save(client, move="chart:up", show=["balance", "chart", "news"])
    assert moved.status_code == 302 and moved.headers["Location"].endswith("#widget-chart")
    save(
        client,
        order=["balance", "invoices", "chart", "activity", "news", "services"],
        move="balance:down",
        show=["balance", "chart", "news"],
    )
    with app.app_context():
        prefs = preferences.load(db.session(), ada.id)
    assert prefs.order == ("invoices", "balance", "chart", "activity", "news", "services")
    assert prefs.shown == ["balance", "chart", "news"]
    page = client.get(PAGE).get_data(as_text=True)
    assert page.index('id="widget-invoices"') < page.index('id="widget-balance"')
    assert 'name="move" value="invoices:up"' not in page  # nothing above the first


def test_one_login_s_preferences_never_change_another_s(app, make_customer, make_user):
    family = make_customer("The Lovelaces")
    make_user("ada", customer=family)
    make_user("byron", customer=family)
    ada, byron = app.test_client(), app.test_client()
    login(ada, "ada")
    login(byron, "byron")
    save(ada, theme="contrast", text_size="large", show=["balance"])
    assert html_attrs(ada) == ("contrast", "large")
    assert html_attrs(byron) == ("auto", "normal")
    byron_page = byron.get("/").get_data(as_text=True)
    assert 'data-widget="chart"' in byron_page
    ada_page = ada.get("/").get_data(as_text=True)
    assert 'data-widget="chart"' not in ada_page and 'data-widget="balance"' in ada_page


def test_staff_choose_theme_and_text_size_but_have_no_dashboard_sections(
    client: FlaskClient, make_user
):
    make_user("boss", role=Role.BOOKKEEPER)
    login(client, "boss")
    page = client.get(PAGE).get_data(as_text=True)
    assert "Dashboard sections" not in page
    response = post_form(client, PAGE, {"theme": "dark", "text_size": "large"})
    assert response.status_code == 302
    assert html_attrs(client, "/admin/") == ("dark", "large")


def test_preferences_need_a_login_and_a_csrf_token(client: FlaskClient, make_user):
    assert client.get(PAGE).status_code == 302
    make_user("ada")
    login(client, "ada")
    assert client.post(PAGE, data={"theme": "dark", "text_size": "normal"}).status_code == 400
    assert html_attrs(client) == ("auto", "normal")


def test_logged_out_pages_use_the_default_look(client: FlaskClient):
    assert html_attrs(client, "/login") == ("auto", "normal")
