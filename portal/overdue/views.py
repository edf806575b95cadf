"""Staff pages for late fees and the overdue ladder."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("overdue", __name__, url_prefix="/admin")
