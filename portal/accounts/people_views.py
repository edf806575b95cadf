"""The people on an account (for its owner, and for staff), and switching between accounts."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from portal import auth, confirm, db
from portal.accounts import people, service
from portal.accounts.models import MemberRole, PortalUser, Role
from portal.audit.actions import Action
from portal.audit.service import record
from portal.audit.web import actor
from portal.billing.models import Customer
from portal.forms import CsrfOnly
from portal.ids import parse_id

bp = Blueprint("people", __name__)

View = str | Response | tuple[str, int]


def _policy() -> service.AccountPolicy:
    policy: service.AccountPolicy = current_app.extensions["portal.account_policy"]
    return policy


# ---- the owner's page -----------------------------------------------------------------------


@bp.route("/account/people")
@auth.account_required(auth.Access.OWNER)
def index() -> View:
    customer_id = auth.account_id()
    s = db.session()
    return render_template(
        "accounts/people.html",
        people=people.people(s, customer_id),
        invites=people.pending_invites(s, customer_id, _policy().invite_lifetime),
        roles=people.INVITABLE,
        role_names=people.ROLE_NAMES,
        form=CsrfOnly(),
        me=auth.user().id,
        staff=False,
        customer=s.get(Customer, customer_id),
        base="people.index",
        base_args={},
    )


@bp.route("/account/people/invite", methods=["POST"])
@auth.account_required(auth.Access.OWNER)
def invite() -> Response:
    return _invite(auth.account_id(), url_for("people.index"))


@bp.route("/account/people/<int:user_id>/role", methods=["POST"])
@auth.account_required(auth.Access.OWNER)
def change_role(user_id: int) -> Response:
    return _change_role(auth.account_id(), user_id, url_for("people.index"))


@bp.route("/account/people/<int:user_id>/remove", methods=["POST"])
@auth.account_required(auth.Access.OWNER)
def remove(user_id: int) -> View:
    return _remove(auth.account_id(), user_id, url_for("people.index"))


@bp.route("/account/people/invites/<int:invite_id>/cancel", methods=["POST"])
@auth.account_required(auth.Access.OWNER)
def cancel_invite(invite_id: int) -> Response:
    return _cancel(auth.account_id(), invite_id, url_for("people.index"))


# ---- staff ----------------------------------------------------------------------------------


def _staff_customer(customer_id: int) -> Customer:
    customer = db.session().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


@bp.route("/admin/customers/<int:customer_id>/people")
@auth.roles_required(Role.ADMIN, Role.BOOKKEEPER)
def staff_index(customer_id: int) -> View:
    customer = _staff_customer(customer_id)
    s = db.session()
    return render_template(
        "accounts/people.html",
        people=people.people(s, customer.id),
        invites=people.pending_invites(s, customer.id, _policy().invite_lifetime),
        roles=_staff_roles(customer.id),
        role_names=people.ROLE_NAMES,
        form=CsrfOnly(),
        me=None,
        staff=True,
        may_change=auth.user().role is Role.ADMIN,
        customer=customer,
        base="people.staff_index",
        base_args={"customer_id": customer.id},
    )


def _staff_roles(customer_id: int) -> tuple[MemberRole, ...]:
    """What staff may invite someone as: the owner too, while the account has none."""
    if people.owner_of(db.session(), customer_id) is None:
        return (MemberRole.OWNER, *people.INVITABLE)
    return people.INVITABLE


def _staff_back(customer_id: int) -> str:
    return url_for("people.staff_index", customer_id=customer_id)


@bp.route("/admin/customers/<int:customer_id>/people/invite", methods=["POST"])
@auth.roles_required(Role.ADMIN)
def staff_invite(customer_id: int) -> Response:
    customer = _staff_customer(customer_id)
    return _invite(customer.id, _staff_back(customer_id), _staff_roles(customer.id))


@bp.route("/admin/customers/<int:customer_id>/people/<int:user_id>/role", methods=["POST"])
@auth.roles_required(Role.ADMIN)
def staff_change_role(customer_id: int, user_id: int) -> Response:
    return _change_role(_staff_customer(customer_id).id, user_id, _staff_back(customer_id))


@bp.route("/admin/customers/<int:customer_id>/people/<int:user_id>/remove", methods=["POST"])
@auth.roles_required(Role.ADMIN)
def staff_remove(customer_id: int, user_id: int) -> View:
    return _remove(_staff_customer(customer_id).id, user_id, _staff_back(customer_id))


@bp.route("/admin/customers/<int:customer_id>/people/<int:user_id>/owner", methods=["POST"])
@auth.roles_required(Role.ADMIN)
def staff_transfer(customer_id: int, user_id: int) -> View:
    customer = _staff_customer(customer_id)
    who = _person_on(customer.id, user_id)
    if not confirm.confirmed():
        return confirm.ask(
            f"Make {who.username} the owner of {customer.display_name}?",
            "The owner manages the people on the account. The present owner keeps full access.",
            request.path,
            _staff_back(customer_id),
            f"Make {who.username} the owner",
        )

    def transfer() -> None:
        with db.transaction() as s:
            people.transfer_ownership(s, customer.id, user_id, actor())

    return _act(transfer, "Ownership transferred.", _staff_back(customer_id))


@bp.route(
    "/admin/customers/<int:customer_id>/people/invites/<int:invite_id>/cancel", methods=["POST"]
)
@auth.roles_required(Role.ADMIN)
def staff_cancel_invite(customer_id: int, invite_id: int) -> Response:
    return _cancel(_staff_customer(customer_id).id, invite_id, _staff_back(customer_id))


# ---- shared by both -------------------------------------------------------------------------


def _invite(
    customer_id: int, back: str, roles: tuple[MemberRole, ...] = people.INVITABLE
) -> Response:
    email = (request.form.get("email") or "").strip()
    try:
        role = people.parse_role(request.form.get("role"), roles)
        if not email or len(email) > 254:
            raise people.PeopleError("Enter the e-mail address of the person to invite.")
        with db.transaction() as s:
            service.invite_customer(s, _policy(), customer_id, email, role, auth.user().id)
            record(
                s,
                Action.PEOPLE_INVITED,
                customer_id=customer_id,
                actor=actor(),
                summary=f"Invited {service.normalize_email(email)} ({people.ROLE_NAMES[role]})",
            )
    except ValueError as exc:  # PeopleError and AccountError are ValueErrors
        flash(f"The invitation was not sent: {exc}", "error")
    else:
        flash(f"Invitation sent to {service.normalize_email(email)}.", "success")
    return redirect(back)


def _person_on(customer_id: int, user_id: int) -> PortalUser:
    """The person `user_id` if they are on this account; else 404, as for a missing one."""
    who = db.session().get(PortalUser, user_id)
    if who is None or people.role_on(db.session(), user_id, customer_id) is None:
        abort(404)
    return who


def _change_role(customer_id: int, user_id: int, back: str) -> Response:
    _person_on(customer_id, user_id)

    def change() -> None:
        role = people.parse_role(request.form.get("role"))
        with db.transaction() as s:
            people.change_role(s, customer_id, user_id, role, actor())

    return _act(change, "Access changed.", back)


def _act(change: Callable[[], None], done: str, back: str) -> Response:
    """Make a change to the people on an account; say what happened, or why not."""
    try:
        change()
    except people.NotOnAccount:
        abort(404)
    except people.PeopleError as exc:
        flash(str(exc), "error")
    else:
        flash(done, "success")
    return redirect(back)


def _remove(customer_id: int, user_id: int, back: str) -> View:
    who = _person_on(customer_id, user_id)
    if not confirm.confirmed():
        return confirm.ask(
            f"Remove {who.username} from this account?",
            "They are signed out at once and can no longer see or pay this account. "
            "Their login stays for any other account they are on.",
            request.path,
            back,
            f"Remove {who.username}",
        )

    def remove() -> None:
        if user_id == auth.user().id:
            raise people.PeopleError("You cannot remove yourself.")
        with db.transaction() as s:
            people.remove(s, customer_id, user_id, actor())

    return _act(remove, "Removed from the account; their sessions have ended.", back)


def _cancel(customer_id: int, invite_id: int, back: str) -> Response:
    with db.transaction() as s:
        done = people.cancel_invite(s, customer_id, invite_id, actor())
    if not done:
        abort(404)
    flash("Invitation cancelled.", "success")
    return redirect(back)


@bp.app_context_processor
def _account_nav() -> dict[str, object]:
    """What the header shows a customer: the account on view, the others, their access."""

    def account_nav() -> dict[str, object] | None:
        if not current_user.is_authenticated or current_user.role is not Role.CUSTOMER:
            return None
        try:
            chosen = auth.current_account()
            return {
                "accounts": auth.accounts(),
                "chosen": chosen,
                "access": int(auth.ACCESS_OF[chosen.role]) if chosen else 0,
            }
        except SQLAlchemyError:  # an error page about the database still renders
            return None

    def account_level() -> int:
        nav = account_nav()
        return int(nav["access"]) if nav else 0  # type: ignore[call-overload]

    return {"account_nav": account_nav, "account_level": account_level}


# ---- switching accounts ---------------------------------------------------------------------


@bp.route("/accounts")
@auth.roles_required(Role.CUSTOMER)
def choose() -> View:
    chosen = auth.current_account()
    return render_template(
        "accounts/choose.html",
        accounts=auth.accounts(),
        chosen=chosen.customer_id if chosen else None,
        role_names=people.ROLE_NAMES,
        form=CsrfOnly(),
    )


@bp.route("/accounts/switch", methods=["POST"])
@auth.roles_required(Role.CUSTOMER)
def switch() -> Response:
    wanted = parse_id(request.form.get("customer_id"))
    mine = {m.customer_id: m for m in auth.accounts()}
    if wanted is None or wanted not in mine:
        abort(404)
    login = auth.current_login()
    with db.transaction() as s:
        auth.choose_account(s, login, wanted)
    flash(f"You are now looking at {mine[wanted].name}.", "success")
    return redirect(url_for("billing.dashboard"))


@bp.route("/no-account")
@login_required
def no_account() -> View:
    return render_template("accounts/no_account.html"), 403
