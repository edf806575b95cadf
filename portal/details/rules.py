"""What a customer's details may be: countries (ISO 3166 alpha-2), postal codes per country,
phone numbers (E.164 through phonenumbers), e-mail addresses and QuickBooks' lengths. Each
check returns the value as the books should hold it, or raises ValueError with the words."""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers
from babel import Locale
from email_validator import EmailNotValidError, validate_email

DEFAULT_COUNTRY = "US"

# QuickBooks' lengths for each detail (Customer and PhysicalAddress in Intuit's reference).
MAX_LENGTH = {
    "display_name": 500,
    "company_name": 100,
    "email": 100,
    "phone": 30,
    "line1": 500,
    "line2": 500,
    "city": 255,
    "region": 255,
    "postal_code": 30,
}

# Territories babel names that are not countries one can live in.
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"})

# How books commonly spell a country, beyond its alpha-2 code and English name.
ALIASES = {
    "USA": "US",
    "U.S.A.": "US",
    "U.S.": "US",
    "UNITED STATES OF AMERICA": "US",
    "CAN": "CA",
    "UK": "GB",
    "GBR": "GB",
    "GREAT BRITAIN": "GB",
    "ENGLAND": "GB",
    "AUS": "AU",
    "NZL": "NZ",
    "IRL": "IE",
    "MEX": "MX",
    "DEU": "DE",
    "FRA": "FR",
}

# Postal codes by country (ASCII only); others get the generic pattern.
POSTAL = {
    "US": re.compile(r"[0-9]{5}(?:-?[0-9]{4})?"),
    "CA": re.compile(r"[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] ?[0-9][ABCEGHJ-NPRSTV-Z][0-9]"),
    "GB": re.compile(
        r"(?:GIR ?0AA|(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9]"
        r"[A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]) ?[0-9][ABD-HJLNP-UW-Z]{2})"
    ),
}
GENERIC_POSTAL = re.compile(r"[A-Z0-9][A-Z0-9 -]{1,10}[A-Z0-9]|[A-Z0-9]{2}")
POSTAL_EXAMPLE = {"US": "12345 or 12345-6789", "CA": "K1A 0B1", "GB": "SW1A 1AA"}


@functools.cache
def countries() -> list[tuple[str, str]]:
    """(alpha-2 code, English name) of every country, by name."""
    names = {str(code): str(name) for code, name in Locale("en").territories.items()}
    codes = [c for c in names if len(c) == 2 and c.isalpha() and c not in NOT_COUNTRIES]
    return sorted(((c, names[c]) for c in codes), key=lambda pair: pair[1])


def country_name(code: str) -> str:
    """The English name QuickBooks is given for a country (it takes names or ISO codes)."""
    return dict(countries()).get(code, code)


def country_code(text: str | None) -> str | None:
    """The alpha-2 code of a country as books spell it ("USA", "Canada", "GB"), or None."""
    key = " ".join((text or "").split()).upper()
    if not key:
        return None
    known = dict(countries())
    if key in known:
        return key
    if key in ALIASES:
        return ALIASES[key]
    by_name = {name.upper(): code for code, name in known.items()}
    return by_name.get(key)


def ascii_digits_only(text: str, what: str) -> None:
    """Refuse digits of other scripts (Arabic-Indic, full-width...): books and the post
    office read 0-9, and a library that quietly converts them would save something unseen."""
    if any(unicodedata.category(ch) == "Nd" and not ch.isascii() for ch in text):
        raise ValueError(f"Write the {what} with the digits 0-9.")


def postal_code(text: str, country: str | None) -> str:
    """A postal code checked for the country and written as its post office writes it."""
    ascii_digits_only(text, "postal code")
    code = " ".join(text.split()).upper()
    if not code.isascii():
        raise ValueError("A postal code has only the letters A-Z, the digits 0-9 and spaces.")
    pattern = POSTAL.get(country or "", GENERIC_POSTAL)
    if not pattern.fullmatch(code):
        example = POSTAL_EXAMPLE.get(country or "")
        hint = f" (for example {example})" if example else ""
        raise ValueError(f"This is not a postal code of {country_name(country or '')}{hint}.")
    if country == "US" and len(code.replace("-", "")) == 9:
        return f"{code[:5]}-{code[-4:]}"
    if country in ("CA", "GB"):
        compact = code.replace(" ", "")
        return f"{compact[:-3]} {compact[-3:]}"
    return code


def phone(text: str, country: str | None) -> str:
    """A phone number in E.164 (+15551234567), read with the country as its region."""
    ascii_digits_only(text, "phone number")
    if not text.isascii():
        raise ValueError("A phone number has only digits, spaces, +, -, ( and ).")
    try:
        number = phonenumbers.parse(text, country or DEFAULT_COUNTRY)
    except phonenumbers.NumberParseException:
        raise ValueError("This is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("This phone number does not exist; check the area code and digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_for_people(stored: str | None, country: str | None) -> str:
    """A stored number as people write it: national format at home, international abroad
    (what QuickBooks has as free text and cannot be read stays as it is)."""
    if not stored:
        return ""
    try:
        number = phonenumbers.parse(stored, country or DEFAULT_COUNTRY)
    except phonenumbers.NumberParseException:
        return stored
    if not phonenumbers.is_valid_number(number):
        return stored
    home = phonenumbers.region_code_for_number(number) == (country or DEFAULT_COUNTRY)
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if home else style.INTERNATIONAL)


def email(text: str) -> str:
    """An e-mail address, checked (not for deliverability) and normalised."""
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"This is not an e-mail address: {exc}") from None
    return str(checked.normalized)


def display_name(text: str) -> str:
    """A name QuickBooks takes: not blank, no colon (it separates a sub-customer's parent)."""
    name = " ".join(text.split())
    if not name:
        raise ValueError("Give the name your account goes by.")
    if ":" in name:
        raise ValueError("A name cannot contain a colon (:).")
    return name
