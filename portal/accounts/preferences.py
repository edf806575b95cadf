"""Each login's look: theme, text size and, for customers, the dashboard's widgets.

Saved per login (not per customer): two people on one account each keep their own."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import (
    Blueprint,
    Flask,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf

from portal import db
from portal.accounts.models import Role, UserPreference
from portal.audit import events
from portal.audit.actions import Action
from portal.audit.web import actor
from portal.auth import user

logger = logging.getLogger(__name__)

THEMES = {
    "auto": "Automatic (follows your device's light or dark setting)",
    "light": "Light",
    "dark": "Dark",
    "contrast": "High contrast",
}
TEXT_SIZES = {"normal": "Normal", "large": "Large", "larger": "Larger"}
WIDGETS = {
    "balance": "Balance and next due date",
    "invoices": "Open invoices",
    "activity": "Recent activity",
    "chart": "Billed and paid, last 12 months",
    "news": "News and alerts",
    "services": "Services you might like",
}


def _known(raw: str) -> list[str]:
    names: list[str] = []
    for name in raw.split(","):
        if name in WIDGETS and name not in names:
            names.append(name)
    return names


@dataclass(frozen=True)
class Preferences:
    """One login's saved choices (the defaults until it saves any)."""

    theme: str = "auto"
    text_size: str = "normal"
    order: tuple[str, ...] = tuple(WIDGETS)
    hidden: frozenset[str] = field(default_factory=frozenset)

    @property
    def shown(self) -> list[str]:
        """The dashboard's widgets to draw, in order."""
        return [name for name in self.order if name not in self.hidden]


def full_order(names: list[str]) -> tuple[str, ...]:
    """The given widgets first, then any not named (a widget added later still shows)."""
    return (*names, *(name for name in WIDGETS if name not in names))


def load(s: Session, user_id: int) -> Preferences:
    """The login's preferences, or the defaults."""
    row = s.get(UserPreference, user_id)
    if row is None:
        return Preferences()
    return Preferences(
        theme=row.theme if row.theme in THEMES else "auto",
        text_size=row.text_size if row.text_size in TEXT_SIZES else "normal",
        order=full_order(_known(row.widget_order)),
        hidden=frozenset(_known(row.hidden_widgets)),
    )


def save(s: Session, user_id: int, prefs: Preferences) -> None:
    """Store the login's preferences (in the caller's unit of work)."""
    row = s.get(UserPreference, user_id) or UserPreference(user_id=user_id)
    row.theme = prefs.theme
    row.text_size = prefs.text_size
    row.widget_order = ",".join(prefs.order)
    row.hidden_widgets = ",".join(sorted(prefs.hidden))
    s.add(row)


def moved(order: tuple[str, ...], widget: str, step: int) -> tuple[str, ...]:
    """The order with `widget` one place earlier (step -1) or later (+1); ends stay put."""
    names = list(order)
    at = names.index(widget)
    to = at + step
    if 0 <= to < len(names):
        names[at], names[to] = names[to], names[at]
    return tuple(names)


@dataclass(frozen=True)
class WidgetChoice:
    order: tuple[str, ...]
    hidden: frozenset[str]
    moved: str | None = None


def widgets_from(form: MultiDict[str, str]) -> WidgetChoice:
    """Read the widget fields (order, show, move); ValueError says what was wrong."""
    order = form.getlist("order")
    if sorted(order) != sorted(WIDGETS):
        raise ValueError("The list of dashboard sections was incomplete. Please try again.")
    shown = form.getlist("show")
    if any(name not in WIDGETS for name in shown):
        raise ValueError("Choose dashboard sections only from the list.")
    hidden = frozenset(WIDGETS) - frozenset(shown)
    move = form.get("move")
    if not move:
        return WidgetChoice(tuple(order), hidden)
    widget, _, direction = move.partition(":")
    if widget not in WIDGETS or direction not in ("up", "down"):
        raise ValueError("That move was not understood. Please try again.")
    step = -1 if direction == "up" else 1
    return WidgetChoice(moved(tuple(order), widget, step), hidden, widget)


def _choices(choices: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in choices.items()]


def _one_of(choices: dict[str, str], what: str) -> AnyOf:
    names = ", ".join(choices.values())
    return AnyOf(list(choices), message=f"Choose a {what}: {names}.")


class PreferencesForm(FlaskForm):
    theme = RadioField(
        "Theme",
        choices=_choices(THEMES),
        validate_choice=False,
        validators=[_one_of(THEMES, "theme")],
    )
    text_size = RadioField(
        "Text size",
        choices=_choices(TEXT_SIZES),
        validate_choice=False,
        validators=[_one_of(TEXT_SIZES, "text size")],
    )


bp = Blueprint("preferences", __name__)


@bp.route("/account/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Response | tuple[str, int]:
    me = user()
    current = load(db.session(), me.id)
    form = PreferencesForm(data={"theme": current.theme, "text_size": current.text_size})
    widgets = WidgetChoice(current.order, current.hidden)
    errors: list[str] = []
    if request.method == "POST":
        valid = form.validate()
        if me.role == Role.CUSTOMER:
            try:
                widgets = widgets_from(request.form)
            except ValueError as e:
                errors.append(str(e))
        if valid and not errors:
            chosen = Preferences(
                str(form.theme.data), str(form.text_size.data), widgets.order, widgets.hidden
            )
            with db.transaction() as s:
                save(s, me.id, chosen)
                events.settings_changed(
                    s,
                    Action.PREFERENCES_CHANGED,
                    actor(),
                    me.customer_id,
                    "Display preferences",
                    events.flat(current),
                    events.flat(chosen),
                )
            if widgets.moved:
                flash(f"Moved \u201c{WIDGETS[widgets.moved]}\u201d.", "success")
                anchor = f"#widget-{widgets.moved}"
            else:
                flash("Preferences saved.", "success")
                anchor = ""
            return redirect(url_for("preferences.preferences") + anchor)
    status = 400 if form.errors or errors else 200
    return render_template(
        "accounts/preferences.html",
        form=form,
        widgets=widgets,
        widget_names=WIDGETS,
        widget_errors=errors,
        show_widgets=me.role == Role.CUSTOMER,
    ), status


def current() -> Preferences:
    """The logged-in user's preferences (defaults when logged out), read once a request."""
    if not has_request_context():
        return Preferences()
    if "preferences" not in g:
        g.preferences = Preferences()
        if current_user.is_authenticated:
            try:
                g.preferences = load(db.session(), user().id)
            except SQLAlchemyError:
                # An error page about the database still renders, in the default look.
                logger.warning("preferences unreadable; default look", exc_info=True)
    prefs: Preferences = g.preferences
    return prefs


def init_app(app: Flask) -> None:
    """Give every page the `theme` and text `size` that base.html puts on <html>."""

    @app.context_processor
    def _look() -> dict[str, str]:
        prefs = current()
        return {"theme": prefs.theme, "size": prefs.text_size}
