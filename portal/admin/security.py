"""Placeholder: the admin's sign-in rules page lands here."""

from flask import Blueprint

bp = Blueprint("admin_security", __name__)
