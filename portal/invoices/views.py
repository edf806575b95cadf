"""Customer invoice pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("invoices", __name__)
