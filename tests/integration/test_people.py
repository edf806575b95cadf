"""People on an account: the owner invites with a role, roles are enforced on every route,
removal ends sessions at once, and a person on several accounts switches between them."""

from __future__ import annotations

import threading
from datetime import date
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import auth, db
from portal.accounts.models import AccountMember, LoginSession, MemberRole, PortalUser, Role
from portal.payments.fake import FakeGateway
from portal.payments.gateway import SavedProfile
from tests.conftest import PASSWORD, Mailbox, csrf_token, login, post_form
from tests.rows import saved_card

LEVEL_OF = {
    MemberRole.VIEW: auth.Access.VIEW,
    MemberRole.PAY: auth.Access.PAY,
    MemberRole.FULL: auth.Access.FULL,
    MemberRole.OWNER: auth.Access.OWNER,
}


def _role(app: Flask, username: str, customer_id: int) -> MemberRole | None:
    with app.app_context():
        return db.session().scalar(
            sa.select(AccountMember.role)
            .join(PortalUser, PortalUser.id == AccountMember.user_id)
            .where(PortalUser.username == username, AccountMember.customer_id == customer_id)
        )


def _user_id(app: Flask, username: str) -> int:
    with app.app_context():
        found = db.session().scalar(sa.select(PortalUser.id).where(PortalUser.username == username))
        assert found is not None
        return found


def _accept(app: Flask, link: str, username: str) -> FlaskClient:
    guest = app.test_client()
    path = urlsplit(link).path
    made = post_form(
        guest, path, {"username": username, "new_password": PASSWORD, "confirm": PASSWORD}
    )
    assert made.status_code == 302, made.get_data(as_text=True)
    return guest


def test_the_first_login_of_an_account_owns_it_and_later_ones_get_full_access(
    app: Flask, make_customer, make_user
):
    oak = make_customer("Oak")
    make_user("first", customer=oak)
    make_user("second", customer=oak)
    assert _role(app, "first", oak.id) is MemberRole.OWNER
    assert _role(app, "second", oak.id) is MemberRole.FULL


def test_owner_invites_a_pay_person_who_can_pay_but_not_manage_people(
    app: Flask, client: FlaskClient, make_customer, make_invoice, make_user, mailbox: Mailbox
):
    oak = make_customer("Oak Street Bakery")
    make_invoice(oak, "80.00", due=date(2099, 1, 1))
    make_user("owner", customer=oak)
    login(client, "owner")
    sent = post_form(
        client,
        "/account/people/invite",
        {"email": "Manager@Oak.example", "role": "pay"},
        page="/account/people",
    )
    assert sent.status_code == 302
    assert mailbox.messages()[-1]["To"].lower() == "manager@oak.example"
    assert "can pay" in mailbox.last_body()
    assert "Manager@oak.example" in client.get("/account/people").get_data(as_text=True)
    manager = _accept(app, mailbox.last_link(), "oakmanager")
    assert _role(app, "oakmanager", oak.id) is MemberRole.PAY
    assert manager.get("/pay").status_code == 200
    assert "$80.00" in manager.get("/").get_data(as_text=True)
    assert manager.get("/account/people").status_code == 403
    assert manager.get("/autopay").status_code == 403
    nav = manager.get("/").get_data(as_text=True)
    assert 'href="/pay"' in nav
    people_page = client.get("/account/people").get_data(as_text=True)
    assert "oakmanager" in people_page and "Can pay" in people_page


def test_a_view_person_sees_invoices_and_cannot_pay(
    app: Flask, make_customer, make_invoice, make_user
):
    oak = make_customer("Oak")
    make_invoice(oak, "80.00", due=date(2099, 1, 1))
    make_user("owner", customer=oak)
    make_user("looker", customer=oak, member_role=MemberRole.VIEW)
    looker = app.test_client()
    login(looker, "looker")
    page = looker.get("/").get_data(as_text=True)
    assert "$80.00" in page
    assert 'href="/pay"' not in page
    assert looker.get("/pay").status_code == 403
    token = csrf_token(looker, "/account")
    refused = looker.post("/pay", data={"csrf_token": token, "invoice": "1"})
    assert refused.status_code == 403


def _walkable(app: Flask) -> list[tuple[str, str, auth.Access]]:
    """(path, method, level) of every route that requires an access level on the account,
    ids filled with 1 (an id that exists or not: the access check comes first)."""
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        level = getattr(view, "required_access", None)
        if level is None:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", "1").replace(f"<{name}>", "x")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((path, method, level))
    return found


def test_every_customer_route_declares_the_access_it_needs(app: Flask):
    """No customer page is left to the default: each names its level (the walk reads it)."""
    customer_blueprints = {"billing", "invoices", "payments", "autopay", "people", "phone"}
    public = {"notifications.unsubscribe", "notifications.unsubscribe_now"}
    missing = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if blueprint not in customer_blueprints and not rule.endpoint.startswith("notifications."):
            continue
        if rule.rule.startswith("/admin") or rule.endpoint in public:
            continue
        if rule.endpoint in {"people.choose", "people.switch", "people.no_account"}:
            continue  # about the login, not one account
        if getattr(app.view_functions[rule.endpoint], "required_access", None) is None:
            missing.append(rule.endpoint)
    assert not missing, f"routes without an access level: {missing}"
    assert len(_walkable(app)) >= 25


@pytest.mark.parametrize("role", list(MemberRole))
def test_every_route_enforces_the_role(app: Flask, make_customer, make_user, role: MemberRole):
    """Walk every account route as a person with `role`: below the route's level the answer
    is 403 and nothing else; at or above it, never 403."""
    oak = make_customer("Oak")
    if role is not MemberRole.OWNER:
        make_user("owner", customer=oak)
    make_user("walker", customer=oak, member_role=role)
    client = app.test_client()
    login(client, "walker")
    token = csrf_token(client, "/account")
    mine = LEVEL_OF[role]
    for path, method, level in _walkable(app):
        if method == "GET":
            response = client.get(path)
        else:
            response = client.open(path, method=method, data={"csrf_token": token})
        if mine < level:
            assert response.status_code == 403, f"{role}: {method} {path} -> {response.status_code}"
        else:
            assert response.status_code != 403, f"{role}: {method} {path} was refused"
            assert response.status_code < 500, f"{role}: {method} {path} -> {response.status_code}"
    # still logged in after the walk (nothing above logged the walker out)
    assert client.get("/").status_code == 200


def test_removing_a_person_ends_their_sessions_at_once(
    app: Flask, client: FlaskClient, make_customer, make_user
):
    oak = make_customer("Oak")
    make_user("owner", customer=oak)
    make_user("helper", customer=oak, member_role=MemberRole.FULL)
    helper = app.test_client()
    login(helper, "helper")
    assert helper.get("/").status_code == 200
    login(client, "owner")
    path = f"/account/people/{_user_id(app, 'helper')}/remove"
    asked = post_form(client, path, {}, page="/account/people")
    assert asked.status_code == 200 and "Remove helper from this account?" in asked.get_data(
        as_text=True
    )
    assert _role(app, "helper", oak.id) is MemberRole.FULL
    gone = post_form(client, path, {"confirm": "1"}, page="/account/people")
    assert gone.status_code == 302
    assert _role(app, "helper", oak.id) is None
    after = helper.get("/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    with app.app_context():
        alive = db.session().scalar(
            sa.select(sa.func.count())
            .select_from(LoginSession)
            .where(
                LoginSession.user_id == _user_id(app, "helper"), LoginSession.revoked_at.is_(None)
            )
        )
    assert alive == 0
    # logging in again reaches no account
    again = app.test_client()
    login(again, "helper")
    assert again.get("/").headers["Location"].endswith("/no-account")
    assert again.get("/no-account").status_code == 403


def test_a_role_change_takes_effect_on_the_next_request(
    app: Flask, client: FlaskClient, make_customer, make_user
):
    oak = make_customer("Oak")
    make_user("owner", customer=oak)
    make_user("helper", customer=oak, member_role=MemberRole.FULL)
    helper = app.test_client()
    login(helper, "helper")
    assert helper.get("/autopay").status_code == 200
    login(client, "owner")
    post_form(
        client,
        f"/account/people/{_user_id(app, 'helper')}/role",
        {"role": "view"},
        page="/account/people",
    )
    assert _role(app, "helper", oak.id) is MemberRole.VIEW
    assert helper.get("/autopay").status_code == 403
    assert helper.get("/pay").status_code == 403


def test_the_owner_cannot_be_demoted_removed_or_made_twice(
    app: Flask, client: FlaskClient, make_customer, make_user
):
    oak = make_customer("Oak")
    make_user("owner", customer=oak)
    make_user("helper", customer=oak)
    login(client, "owner")
    owner_id = _user_id(app, "owner")
    post_form(client, f"/account/people/{owner_id}/role", {"role": "view"}, page="/account/people")
    post_form(
        client, f"/account/people/{owner_id}/remove", {"confirm": "1"}, page="/account/people"
    )
    helper_id = _user_id(app, "helper")
    refused = post_form(
        client, f"/account/people/{helper_id}/role", {"role": "owner"}, page="/account/people"
    )
    assert refused.status_code == 302
    assert _role(app, "owner", oak.id) is MemberRole.OWNER
    assert _role(app, "helper", oak.id) is MemberRole.FULL
    odd = post_form(
        client,
        f"/account/people/{helper_id}/role",
        {"role": "\uff50\uff41\uff59"},
        page="/account/people",
    )
    assert odd.status_code == 302
    assert _role(app, "helper", oak.id) is MemberRole.FULL


def test_an_owner_cannot_touch_the_people_of_another_account(
    app: Flask, client: FlaskClient, make_customer, make_user
):
    oak, elm = make_customer("Oak"), make_customer("Elm")
    make_user("owner", customer=oak)
    make_user("elmowner", customer=elm)
    make_user("elmhelper", customer=elm)
    login(client, "owner")
    other = _user_id(app, "elmhelper")
    token = csrf_token(client, "/account/people")
    for path, data in [
        (f"/account/people/{other}/role", {"role": "view"}),
        (f"/account/people/{other}/remove", {}),
        (f"/account/people/{2**63}/remove", {}),
    ]:
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 404
    assert _role(app, "elmhelper", elm.id) is MemberRole.FULL
    assert "elmhelper" not in client.get("/account/people").get_data(as_text=True)


def test_staff_transfer_ownership_and_the_old_owner_keeps_full_access(
    app: Flask, make_customer, make_user
):
    oak = make_customer("Oak")
    make_user("owner", customer=oak)
    make_user("heir", customer=oak, member_role=MemberRole.PAY)
    make_user("boss", role=Role.ADMIN)
    staff = app.test_client()
    login(staff, "boss")
    page = staff.get(f"/admin/customers/{oak.id}/people")
    assert page.status_code == 200 and "heir" in page.get_data(as_text=True)
    moved = post_form(
        staff,
        f"/admin/customers/{oak.id}/people/{_user_id(app, 'heir')}/owner",
        {"confirm": "1"},
        page=f"/admin/customers/{oak.id}/people",
    )
    assert moved.status_code == 302
    assert _role(app, "heir", oak.id) is MemberRole.OWNER
    assert _role(app, "owner", oak.id) is MemberRole.FULL
    heir = app.test_client()
    login(heir, "heir")
    assert heir.get("/account/people").status_code == 200


def test_bookkeepers_see_people_but_cannot_change_them(app: Flask, make_customer, make_user):
    oak = make_customer("Oak")
    make_user("owner", customer=oak)
    make_user("helper", customer=oak)
    make_user("books", role=Role.BOOKKEEPER)
    books = app.test_client()
    login(books, "books")
    assert books.get(f"/admin/customers/{oak.id}/people").status_code == 200
    token = csrf_token(books, "/account")
    helper = _user_id(app, "helper")
    for path in (
        f"/admin/customers/{oak.id}/people/{helper}/remove",
        f"/admin/customers/{oak.id}/people/{helper}/owner",
    ):
        assert books.post(path, data={"csrf_token": token}).status_code == 404
    assert _role(app, "helper", oak.id) is MemberRole.FULL


def test_a_person_on_two_accounts_switches_and_sees_each(
    app: Flask, make_customer, make_invoice, make_user, mailbox: Mailbox
):
    oak, elm = make_customer("Oak Street Bakery"), make_customer("Elm Dental")
    make_invoice(oak, "11.00", due=date(2099, 1, 1))
    make_invoice(elm, "22.00", due=date(2099, 1, 1))
    make_user("books", email="books@example.com", customer=oak, member_role=MemberRole.PAY)
    make_user("elmowner", customer=elm)
    owner = app.test_client()
    login(owner, "elmowner")
    post_form(
        owner,
        "/account/people/invite",
        {"email": "books@example.com", "role": "pay"},
        page="/account/people",
    )
    path = urlsplit(mailbox.last_link()).path
    books = app.test_client()
    assert "Log in to accept" in books.get(path).get_data(as_text=True)
    login(books, "books")
    assert "$11.00" in books.get("/").get_data(as_text=True)
    joined = post_form(books, path, {}, page=path)
    assert joined.status_code == 302
    assert _role(app, "books", elm.id) is MemberRole.PAY
    page = books.get("/").get_data(as_text=True)  # joining shows the new account
    assert "$22.00" in page and "$11.00" not in page
    assert 'data-testid="account-bar"' in page
    post_form(books, "/accounts/switch", {"customer_id": str(oak.id)}, page="/accounts")
    page = books.get("/").get_data(as_text=True)
    assert "$11.00" in page and "$22.00" not in page
    # the other browser session of the same person keeps its own choice
    token = csrf_token(books, "/accounts")
    for bad in ("999999", str(2**63), "١٢", ""):
        assert (
            books.post("/accounts/switch", data={"csrf_token": token, "customer_id": bad})
        ).status_code == 404


def test_an_invitation_for_another_address_cannot_be_taken_by_a_logged_in_person(
    app: Flask, make_customer, make_user, mailbox: Mailbox
):
    oak, elm = make_customer("Oak"), make_customer("Elm")
    make_user("intended", email="intended@example.com", customer=oak)
    make_user("thief", email="thief@example.com", customer=oak)
    make_user("elmowner", customer=elm)
    owner = app.test_client()
    login(owner, "elmowner")
    post_form(
        owner,
        "/account/people/invite",
        {"email": "intended@example.com", "role": "full"},
        page="/account/people",
    )
    path = urlsplit(mailbox.last_link()).path
    thief = app.test_client()
    login(thief, "thief")
    post_form(thief, path, {}, page=path)
    assert _role(app, "thief", elm.id) is None


def test_staff_and_existing_members_cannot_be_invited(
    app: Flask, client: FlaskClient, make_customer, make_user, mailbox: Mailbox
):
    oak = make_customer("Oak")
    make_user("owner", customer=oak)
    make_user("helper", email="helper@example.com", customer=oak)
    make_user("boss", email="boss@example.com", role=Role.ADMIN)
    login(client, "owner")
    before = len(mailbox.messages())
    for email in ("helper@example.com", "boss@example.com", "x" * 300 + "@example.com", ""):
        post_form(
            client, "/account/people/invite", {"email": email, "role": "pay"}, "/account/people"
        )
    for role in ("owner", "admin", ""):
        post_form(
            client,
            "/account/people/invite",
            {"email": "new@example.com", "role": role},
            "/account/people",
        )
    assert len(mailbox.messages()) == before


def test_sixteen_concurrent_acceptances_of_one_invitation_make_one_login(
    app: Flask, client: FlaskClient, make_customer, make_user, mailbox: Mailbox
):
    oak = make_customer("Oak")
    make_user("owner", customer=oak)
    login(client, "owner")
    post_form(
        client,
        "/account/people/invite",
        {"email": "new@example.com", "role": "view"},
        page="/account/people",
    )
    path = urlsplit(mailbox.last_link()).path
    guests = []
    for _ in range(16):
        guest = app.test_client()
        guests.append((guest, csrf_token(guest, path)))
    statuses: list[int] = []
    start = threading.Barrier(16)

    def accept(n: int) -> None:
        guest, token = guests[n]
        start.wait()
        answer = guest.post(
            path,
            data={
                "csrf_token": token,
                "username": f"newperson{n}",
                "new_password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=accept, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(302) == 1
    with app.app_context():
        made = db.session().scalar(
            sa.select(sa.func.count())
            .select_from(AccountMember)
            .where(AccountMember.customer_id == oak.id)
        )
    assert made == 2  # the owner and one newcomer


def test_a_pay_person_sees_and_uses_only_the_methods_they_saved(
    app: Flask, make_customer, make_invoice, make_user
):
    oak = make_customer("Oak")
    make_invoice(oak, "80.00", due=date(2099, 1, 1))
    owner = make_user("owner", customer=oak)
    payer = make_user("payer", customer=oak, member_role=MemberRole.PAY)
    with app.app_context(), db.transaction() as s:
        theirs = saved_card(oak.id, last4="1111", gateway_payment_profile_id="21")
        theirs.added_by = owner.id
        mine = saved_card(oak.id, last4="2222", gateway_payment_profile_id="22")
        mine.added_by = payer.id
        s.add_all([theirs, mine])
        s.flush()
        theirs_id, mine_id = theirs.id, mine.id
    gateway = FakeGateway()
    gateway.saved_methods.add(SavedProfile("1", "22"))
    app.extensions["portal.gateway"] = gateway
    client = app.test_client()
    login(client, "payer")
    page = client.get("/payment-methods").get_data(as_text=True)
    assert "2222" in page and "1111" not in page
    assert "1111" not in client.get("/pay").get_data(as_text=True)
    token = csrf_token(client, "/payment-methods")
    assert (
        client.post(f"/payment-methods/{theirs_id}/remove", data={"csrf_token": token})
    ).status_code == 404
    with app.app_context():
        invoice_id = db.session().scalar(sa.text("SELECT min(id) FROM invoice"))
    refused = client.post(
        "/pay",
        data={
            "csrf_token": csrf_token(client, "/account"),
            "invoice": str(invoice_id),
            f"amount-{invoice_id}": "80.00",
            "method": f"saved-{theirs_id}",
            "idempotency_key": "k" * 32,
        },
    )
    assert refused.status_code == 400
    assert "Choose a payment method from the list." in refused.get_data(as_text=True)
    paid = client.post(
        "/pay",
        data={
            "csrf_token": csrf_token(client, "/account"),
            "invoice": str(invoice_id),
            f"amount-{invoice_id}": "80.00",
            "method": f"saved-{mine_id}",
            "idempotency_key": "m" * 32,
        },
    )
    assert paid.status_code == 303, paid.get_data(as_text=True)
    owner_client = app.test_client()
    login(owner_client, "owner")
    both = owner_client.get("/payment-methods").get_data(as_text=True)
    assert "1111" in both and "2222" in both


def test_staff_invite_the_first_owner_of_an_account_without_one(
    app: Flask, make_customer, make_user, mailbox: Mailbox
):
    oak = make_customer("Oak")
    make_user("boss", role=Role.ADMIN)
    staff = app.test_client()
    login(staff, "boss")
    page = staff.get(f"/admin/customers/{oak.id}/people").get_data(as_text=True)
    assert "No one has a login on this account yet" in page
    assert '<option value="owner" selected>' in page
    post_form(
        staff,
        f"/admin/customers/{oak.id}/people/invite",
        {"email": "owner@oak.example", "role": "owner"},
        page=f"/admin/customers/{oak.id}/people",
    )
    _accept(app, mailbox.last_link(), "oakowner")
    assert _role(app, "oakowner", oak.id) is MemberRole.OWNER
    # with an owner, staff can no longer invite a second one
    before = len(mailbox.messages())
    post_form(
        staff,
        f"/admin/customers/{oak.id}/people/invite",
        {"email": "second@oak.example", "role": "owner"},
        page=f"/admin/customers/{oak.id}/people",
    )
    assert len(mailbox.messages()) == before
    assert 'value="owner"' not in staff.get(f"/admin/customers/{oak.id}/people").get_data(
        as_text=True
    )
