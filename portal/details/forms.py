"""The details form; CSRF comes with FlaskForm. Lengths are bounded here (a 5,000-character
paste is refused before anything reads it); the rules per field are in portal.details.rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from portal.details import rules
from portal.forms import CleanText


def _text(label: str, most: int, description: str = "") -> StringField:
    return StringField(label, validators=[CleanText(most)], description=description)


def _country(label: str) -> SelectField:
    choices = [SelectChoice(code, name) for code, name in rules.countries()]
    return SelectField(label, choices=choices, default=rules.DEFAULT_COUNTRY)


class DetailsForm(FlaskForm):
    display_name = _text("Name", 500, "The name your account goes by on invoices.")
    company_name = _text("Company (optional)", 100)
    email = _text("E-mail for invoices", 100, "Where invoices and statements are sent.")
    phone = _text("Phone", 30)
    bill_line1 = _text("Street address", 500)
    bill_line2 = _text("Apartment, suite, unit (optional)", 500)
    bill_city = _text("City", 255)
    bill_region = _text("State, province or county", 255)
    bill_postal_code = _text("ZIP or postal code", 30)
    bill_country = _country("Country")
    ship_line1 = _text("Street address", 500)
    ship_line2 = _text("Apartment, suite, unit (optional)", 500)
    ship_city = _text("City", 255)
    ship_region = _text("State, province or county", 255)
    ship_postal_code = _text("ZIP or postal code", 30)
    ship_country = _country("Country")
    # What the page showed (a fingerprint), and the form's one-time key against double posts.
    version = HiddenField(validators=[DataRequired(), Length(max=64)])
    form_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])
