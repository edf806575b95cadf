"""Account forms; CSRF comes with FlaskForm."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from portal.accounts.passwords import MAX_PASSWORD_LENGTH
from portal.forms import CleanText

_required = DataRequired(message="This field is required.")


def _password(label: str) -> PasswordField:
    return PasswordField(label, validators=[_required, CleanText(MAX_PASSWORD_LENGTH)])


def _new_password() -> PasswordField:
    return PasswordField(
        "New password",
        validators=[_required, CleanText(MAX_PASSWORD_LENGTH)],
        description="At least 12 characters; a few unrelated words make a good passphrase.",
    )


def _confirm() -> PasswordField:
    return PasswordField(
        "Repeat the new password",
        validators=[_required, EqualTo("new_password", message="The two passwords differ.")],
    )


class LoginForm(FlaskForm):
    identifier = StringField("Username or e-mail", validators=[_required, CleanText(254)])
    password = _password("Password")


class ForgotPasswordForm(FlaskForm):
    identifier = StringField("Username or e-mail", validators=[_required, CleanText(254)])


class ResetPasswordForm(FlaskForm):
    new_password = _new_password()
    confirm = _confirm()


class ChangePasswordForm(FlaskForm):
    current_password = _password("Current password")
    new_password = _new_password()
    confirm = _confirm()


class ChangeUsernameForm(FlaskForm):
    username = StringField("New username", validators=[_required, CleanText(40)])


class AcceptInviteForm(FlaskForm):
    username = StringField("Choose a username", validators=[_required, CleanText(40)])
    new_password = _new_password()
    confirm = _confirm()


class LogoutForm(FlaskForm):
    """Logging out is a POST so that a link elsewhere cannot do it."""


class CodeForm(FlaskForm):
    """A code from an authenticator app, an e-mail, or a recovery code."""

    code = StringField("Code", validators=[_required, CleanText(64)])
    remember = BooleanField("Remember this device for 30 days")


class ConfirmForm(FlaskForm):
    """Step-up: the password, or a code from the authenticator app."""

    secret = PasswordField(
        "Your password, or a code from your authenticator app",
        validators=[_required, CleanText(MAX_PASSWORD_LENGTH)],
    )
