"""A second step before an action that cannot be undone: the first POST renders "Are you
sure?" carrying the same fields plus confirm=1, and only that second POST acts. It works
without JavaScript, and the CSRF token travels with it."""

from __future__ import annotations

from collections.abc import Iterable

from flask import render_template, request


def confirmed() -> bool:
    """True when this POST came from the confirmation page."""
    return request.form.get("confirm") == "1"


def ask(
    question: str,
    detail: str,
    action: str,
    cancel_url: str,
    confirm_label: str,
    fields: Iterable[tuple[str, str]] = (),
) -> tuple[str, int]:
    """The confirmation page for the action posted to `action`."""
    return render_template(
        "confirm.html",
        question=question,
        detail=detail,
        action=action,
        cancel_url=cancel_url,
        confirm_label=confirm_label,
        fields=list(fields),
    ), 200
