"""/locations: the account's service locations, and the name the customer gives each."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import auth, db
from portal.audit.web import actor
from portal.billing import locations
from portal.forms import CsrfOnly

bp = Blueprint("locations", __name__)


def _render(errors: dict[int, str] | None = None, typed: dict[int, str] | None = None) -> str:
    return render_template(
        "billing/locations.html",
        rows=locations.locations(db.session(), auth.account_id()),
        can_rename=(auth.account_access() or 0) >= auth.Access.FULL,
        errors=errors or {},
        typed=typed or {},
        name_max=locations.NAME_MAX,
        form=CsrfOnly(),
    )


@bp.route("/locations")
@auth.account_required(auth.Access.VIEW)
def index() -> str:
    return _render()


@bp.route("/locations/<int:location_id>/name", methods=["POST"])
@auth.account_required(auth.Access.FULL)
def rename(location_id: int) -> Response | tuple[str, int]:
    raw = request.form.get("name", "")[: locations.NAME_MAX * 4]
    try:
        with db.transaction() as s:
            location = locations.rename(s, auth.account_id(), location_id, raw, actor())
            shown = location.shown_name
    except LookupError:
        abort(404)  # another account's location looks exactly like a missing one
    except locations.BadName as exc:
        return _render({location_id: str(exc)}, {location_id: raw}), 400
    flash(f"The location is now called {shown}.", "success")
    return redirect(url_for("locations.index"), code=303)
