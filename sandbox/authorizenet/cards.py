"""Payment methods: cards and bank accounts, Luhn, brands, masking and the test-data rules."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

DECLINE_ZIP = "46282"
CVV_MISMATCH = "901"
ECHECK_LIMIT = Decimal("100.00")
_BRANDS = (
    (re.compile(r"^4"), "Visa"),
    (re.compile(r"^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))"), "MasterCard"),
    (re.compile(r"^3[47]"), "AmericanExpress"),
    (re.compile(r"^(6011|65|64[4-9]|622)"), "Discover"),
    (re.compile(r"^35"), "JCB"),
    (re.compile(r"^(30[0-5]|36|38)"), "DinersClub"),
)


def luhn_ok(number: str) -> bool:
    """True when `number` is 13-19 digits with a valid Luhn check digit."""
    if not number.isdigit() or not 13 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The accountType name the gateway reports for a card number."""
    for pattern, brand in _BRANDS:
        if pattern.match(number):
            return brand
    return "Visa"


def mask(digits: str) -> str:
    """XXXX + the last four digits (the only form a number ever leaves the sandbox in)."""
    return "XXXX" + digits[-4:]


def fingerprint(digits: str) -> str:
    """A stable hash to compare numbers without keeping them around for comparison."""
    return hashlib.sha256(digits.encode("ascii")).hexdigest()


def parse_expiry(raw: str) -> tuple[int, int] | None:
    """Read YYYY-MM, MMYY, MM/YY, MMYYYY or MM/YYYY into (year, month); None if invalid."""
    value = raw.strip()
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", value)
    if match:
        year, month = int(match[1]), int(match[2])
    else:
        match = re.fullmatch(r"(\d{2})/?(\d{2}|\d{4})", value)
        if not match:
            return None
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
    return (year, month) if 1 <= month <= 12 else None


def expired(year: int, month: int, today: date) -> bool:
    """A card is good through the last day of its expiry month."""
    return (year, month) < (today.year, today.month)


@dataclass
class Card:
    """A card as the gateway holds it; repr never shows the number or the CVV."""

    number: str = field(repr=False)
    year: int
    month: int
    card_code: str | None = field(default=None, repr=False)
    zip: str | None = None
    full_name: str | None = None
    # the fingerprint of the real number, for a card read back from a state file (which
    # keeps only the first six and last four digits)
    stored_key: str | None = field(default=None, repr=False, compare=False)

    kind = "card"

    @property
    def last4(self) -> str:
        """Last four digits."""
        return self.number[-4:]

    @property
    def account_type(self) -> str:
        """Visa, MasterCard, AmericanExpress, Discover..."""
        return card_brand(self.number)

    @property
    def masked(self) -> str:
        """XXXX1111."""
        return mask(self.number)

    @property
    def key(self) -> str:
        """Identity for duplicate checks."""
        return self.stored_key or fingerprint(self.number)

    def payment_element(
        self, unmask_expiry: bool = False
    ) -> tuple[str, list[tuple[str, str | None]]]:
        """The masked creditCard element for transaction details and profiles (the expiry as
        YYYY-MM only when asked with unmaskExpirationDate, as the real API does)."""
        expiry = f"{self.year:04d}-{self.month:02d}" if unmask_expiry else "XXXX"
        return (
            "creditCard",
            [
                ("cardNumber", self.masked),
                ("expirationDate", expiry),
                ("cardType", self.account_type),
            ],
        )


@dataclass
class Bank:
    """An eCheck bank account; repr never shows the numbers."""

    routing_number: str = field(repr=False)
    account_number: str = field(repr=False)
    name_on_account: str
    account_type: str = "checking"
    echeck_type: str = "WEB"
    stored_key: str | None = field(default=None, repr=False, compare=False)  # as Card's

    kind = "bank"

    @property
    def last4(self) -> str:
        """Last four digits of the account number."""
        return self.account_number[-4:]

    @property
    def masked(self) -> str:
        """XXXX1234."""
        return mask(self.account_number)

    @property
    def key(self) -> str:
        """Identity for duplicate checks."""
        return self.stored_key or fingerprint(self.routing_number + ":" + self.account_number)

    def payment_element(
        self, unmask_expiry: bool = False
    ) -> tuple[str, list[tuple[str, str | None]]]:
        """The masked bankAccount element for transaction details and profiles."""
        return (
            "bankAccount",
            [
                ("accountType", self.account_type),
                ("routingNumber", mask(self.routing_number)),
                ("accountNumber", self.masked),
                ("nameOnAccount", self.name_on_account),
                ("echeckType", self.echeck_type),
            ],
        )


PaymentMethod = Card | Bank


def reported_account_type(method: PaymentMethod) -> str:
    """accountType in transaction responses: the card brand, or eCheck."""
    return method.account_type if isinstance(method, Card) else "eCheck"


def card_problem(number: str, year: int, month: int, now: datetime) -> tuple[str, str] | None:
    """The transaction error (code, text) for an unusable card, else None."""
    if not luhn_ok(number):
        return "6", "The credit card number is invalid."
    if expired(year, month, now.date()):
        return "8", "The credit card has expired."
    return None


def bank_problem(routing: str, account: str) -> tuple[str, str] | None:
    """The transaction error (code, text) for an unusable bank account, else None."""
    if not (routing.isdigit() and len(routing) == 9):
        return "9", "The ABA code is invalid"
    if not (account.isdigit() and 5 <= len(account) <= 17):
        return "10", "The account number is invalid"
    return None
