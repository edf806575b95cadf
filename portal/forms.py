"""Shared form pieces: a form that only carries the CSRF token, and text fields that refuse
what is not clean text."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, Form
from wtforms.validators import ValidationError

REPLACEMENT_CHAR = "\ufffd"


class CsrfOnly(FlaskForm):
    """Buttons and forms whose fields are read by hand: this carries the CSRF token, which
    CSRFProtect checks on every POST before any view runs."""


class CleanText:
    """Reject text that was not valid UTF-8 (decoded as U+FFFD) or holds control characters."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def __call__(self, form: Form, field: Field) -> None:
        value: Any = field.data or ""
        if len(value) > self.max_length:
            raise ValidationError(f"Must be at most {self.max_length} characters.")
        if REPLACEMENT_CHAR in value:
            raise ValidationError("Contains characters that are not valid text (UTF-8).")
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t" for ch in value):
            raise ValidationError("Contains control characters.")
