"""A customer creates their own first login ("Create your login"), with no account number:
they name a recent invoice and its total (or their billing ZIP code), and a link goes to the
e-mail address on file in QuickBooks, never to one they type.

The answer is the same whatever happened, and so is the work: the lookup, the limit counts
and the bookkeeping run for every request, and e-mail is left to the worker's queue, so
neither the page nor its timing tells whether the details matched an account.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.accounts import people, signin_policy, tokens
from portal.accounts.claim_models import MAILED, ClaimAttempt, ClaimOutcome
from portal.accounts.models import PortalUser, Role, TokenPurpose
from portal.accounts.service import AccountError, AccountPolicy, create_user, normalize_email
from portal.audit.actions import Action
from portal.audit.service import Actor, as_person, record
from portal.billing.models import Customer, Invoice
from portal.mail import queue_email

logger = logging.getLogger(__name__)

LIFETIME = timedelta(hours=24)
RECENT = timedelta(days=548)  # "a recent invoice": dated within about 18 months
PER_ADDRESS = 10  # requests from one client address ...
ADDRESS_WINDOW = timedelta(hours=1)
PER_CUSTOMER = 3  # ... and e-mails to one customer
CUSTOMER_WINDOW = timedelta(hours=24)
INVOICE_NUMBER_LENGTH = 21  # QuickBooks' DocNumber
NO_CUSTOMER = -1  # an id no row has: the queries run the same when nothing matched

# ASCII digits only (Decimal() would take '١٢' or '²'), thousands grouped by commas or not,
# at most two decimals.
_AMOUNT = re.compile(r"\$?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,12})(\.[0-9]{1,2})?")
AMOUNT_ERROR = "Enter the invoice's total in dollars and cents with digits 0-9, e.g. 1,234.50."


class ClaimUnavailable(Exception):
    """The business has turned self-claim off."""


@dataclass(frozen=True)
class Proof:
    """What the customer typed: an invoice number, and its total or their billing ZIP code."""

    invoice_number: str
    amount: Decimal | None
    postal_code: str | None


def parse_amount(raw: str) -> Decimal:
    """The amount `raw` names ("$1,234.50", "1234.5", "40"); ValueError says how to write it."""
    text = raw.strip().replace(" ", "")
    match = _AMOUNT.fullmatch(text)
    if not match:
        raise ValueError(AMOUNT_ERROR)
    return Decimal(match.group(1).replace(",", "") + (match.group(2) or "")).quantize(
        Decimal("0.01")
    )


def invoice_key(raw: str) -> str:
    """An invoice number as compared: trimmed, without a leading '#', upper case."""
    return raw.strip().lstrip("#").strip().upper()


def postal_key(raw: str) -> str:
    """A ZIP or postal code as compared: upper case, without spaces or dashes."""
    return re.sub(r"[\s-]", "", raw).upper()


def _postal_fits(on_file: str | None, typed: str) -> bool:
    have, given = postal_key(on_file or ""), postal_key(typed)
    if not have or not given:
        return False
    if have == given:
        return True
    # ZIP+4 on one side, five digits on the other: the five digits decide.
    short, long = sorted((have, given), key=len)
    return len(short) == 5 and len(long) == 9 and long.isascii() and long.startswith(short)


def address_on_file(raw: str | None) -> str:
    """The address a customer's e-mail on file names: QuickBooks lets it hold several, split
    by commas, and the first valid one is theirs; "" when there is none."""
    for part in re.split(r"[,;]", raw or ""):
        try:
            return normalize_email(part)
        except AccountError:
            continue
    return ""


def enabled(s: Session) -> bool:
    """Whether the business lets customers create their own login."""
    return signin_policy.rules(s).self_claim


def _matching_customer(s: Session, proof: Proof, today: date) -> Customer | None:
    """The one active customer with a recent, live invoice of that number that fits every
    fact given; None when none does or several do (an invoice number is not unique)."""
    rows = s.execute(
        sa.select(Customer, Invoice.total_amt)
        .join(Invoice, Invoice.customer_id == Customer.id)
        .where(
            sa.func.upper(Invoice.doc_number) == invoice_key(proof.invoice_number),
            Invoice.voided.is_(False),
            Invoice.deleted.is_(False),
            Invoice.txn_date >= today - RECENT,
            Customer.active.is_(True),
        )
    ).all()
    fits: dict[int, Customer] = {}
    for customer, total in rows:
        amount_ok = proof.amount is None or total == proof.amount
        postal_ok = proof.postal_code is None or _postal_fits(
            customer.bill_postal_code, proof.postal_code
        )
        if amount_ok and postal_ok:
            fits[customer.id] = customer
    return next(iter(fits.values())) if len(fits) == 1 else None


def _count(s: Session, *where: sa.ColumnElement[bool]) -> int:
    return s.scalar(sa.select(sa.func.count()).select_from(ClaimAttempt).where(*where)) or 0


def _has_owner(s: Session, customer_id: int) -> bool:
    """Whether the account has its owner login (its first login is made the owner)."""
    return people.owner_of(s, customer_id) is not None


def _login_with_email(s: Session, email: str) -> bool:
    query = sa.select(PortalUser.id).where(PortalUser.email_key == email.lower()).limit(1)
    return s.scalar(query) is not None


def request_claim(
    s: Session,
    policy: AccountPolicy,
    proof: Proof,
    who: Actor,
    now: datetime,
    today: date,
) -> ClaimOutcome:
    """Handle one "Create your login" request; the outcome is for logs and tests only, never
    for the person who asked. ClaimUnavailable when self-claim is off."""
    if not enabled(s):
        raise ClaimUnavailable
    address = (who.address or "unknown")[:64]
    customer = _matching_customer(s, proof, today)
    customer_id = customer.id if customer is not None else NO_CUSTOMER
    email = address_on_file(customer.email if customer is not None else None)
    from_address = _count(
        s, ClaimAttempt.address == address, ClaimAttempt.created_at > now - ADDRESS_WINDOW
    )
    to_customer = _count(
        s,
        ClaimAttempt.customer_id == customer_id,
        ClaimAttempt.outcome.in_(MAILED),
        ClaimAttempt.created_at > now - CUSTOMER_WINDOW,
    )
    has_owner = _has_owner(s, customer_id)
    email_used = _login_with_email(s, email)

    if from_address >= PER_ADDRESS or to_customer >= PER_CUSTOMER:
        outcome = ClaimOutcome.LIMITED
    elif customer is None:
        outcome = ClaimOutcome.NO_MATCH
    elif not email:
        outcome = ClaimOutcome.NO_EMAIL
    elif has_owner:
        outcome = ClaimOutcome.HAS_LOGIN
    elif email_used:
        outcome = ClaimOutcome.EMAIL_USED
    else:
        outcome = ClaimOutcome.SENT

    s.add(
        ClaimAttempt(
            address=address,
            customer_id=customer.id if customer is not None else None,
            outcome=outcome,
            created_at=now,
        )
    )
    s.execute(sa.delete(ClaimAttempt).where(ClaimAttempt.created_at < now - CUSTOMER_WINDOW))
    if outcome is ClaimOutcome.LIMITED:
        logger.warning(
            "claim request from %s refused: past a limit (%s from the address in an hour, "
            "%s e-mails to customer %s in a day)",
            address,
            from_address,
            to_customer,
            customer.id if customer is not None else "-",
        )
        return outcome
    record(
        s,
        Action.CLAIM_REQUESTED,
        customer_id=customer.id if customer is not None else None,
        actor=who,
        summary=_SUMMARIES[outcome],
    )
    if customer is not None and outcome in MAILED:
        _mail(s, policy, customer, email, outcome)
    logger.info("claim request from %s: %s", address, outcome.value)
    return outcome


_SUMMARIES = {
    ClaimOutcome.SENT: "Asked to create a login from an invoice; a link went to the e-mail on file",
    ClaimOutcome.HAS_LOGIN: (
        "Asked to create a login from an invoice; the account has one, so a sign-in and "
        "password-reset hint went to the e-mail on file"
    ),
    ClaimOutcome.EMAIL_USED: (
        "Asked to create a login from an invoice; another login uses the e-mail on file, "
        "so a sign-in hint went to it"
    ),
    ClaimOutcome.NO_EMAIL: (
        "Asked to create a login from an invoice; nothing sent: no e-mail on file in QuickBooks"
    ),
    ClaimOutcome.NO_MATCH: "Asked to create a login; the details matched no account",
}


def _mail(
    s: Session, policy: AccountPolicy, customer: Customer, email: str, outcome: ClaimOutcome
) -> None:
    link = None
    if outcome is ClaimOutcome.SENT:
        signed = tokens.issue(s, TokenPurpose.CLAIM, LIFETIME, customer_id=customer.id, email=email)
        link = f"{policy.public_url}/claim/{signed}"
        template, subject = "email/claim_link.txt", "Create your {business} portal login"
    elif outcome is ClaimOutcome.HAS_LOGIN:
        template, subject = "email/claim_has_login.txt", "Your {business} portal login"
    else:
        template, subject = "email/claim_email_used.txt", "Your {business} portal login"
    # The worker sends it: the request takes no longer for having matched.
    queue_email(
        s,
        email,
        subject,
        template,
        send_now=False,
        customer=customer,
        link=link,
        hours=int(LIFETIME.total_seconds() // 3600),
        login_link=f"{policy.public_url}/login",
        forgot_link=f"{policy.public_url}/forgot-password",
    )


@dataclass(frozen=True)
class ClaimLink:
    """What a claim link offers: a login for this customer, at this e-mail address."""

    customer_name: str
    email: str


def check_link(s: Session, signed: str) -> ClaimLink:
    """What the link offers; ClaimUnavailable when self-claim is off, TokenInvalid when the
    link cannot be used."""
    if not enabled(s):
        raise ClaimUnavailable
    row = tokens.peek(s, TokenPurpose.CLAIM, signed, LIFETIME)
    customer = s.get(Customer, row.customer_id) if row.customer_id else None
    if customer is None or not row.email:
        raise tokens.TokenInvalid("This link is not valid. Ask for a new one.")
    if _has_owner(s, customer.id):
        raise tokens.TokenInvalid(ALREADY_CLAIMED)
    return ClaimLink(customer.display_name, row.email)


ALREADY_CLAIMED = (
    "This account already has a login. Log in with it, or reset its password if you forgot it."
)


def complete_claim(
    s: Session, policy: AccountPolicy, signed: str, username: str, password: str, who: Actor
) -> PortalUser:
    """Create the customer's login from a claim link; the link then stops working. Of any
    number of links used at once for one customer, one creates the login."""
    if not enabled(s):
        raise ClaimUnavailable
    row = tokens.consume(s, TokenPurpose.CLAIM, signed, LIFETIME)
    if row.customer_id is None or not row.email:
        raise tokens.TokenInvalid("This link is not valid. Ask for a new one.")
    # The customer's row is the lock two links of one customer meet at (PostgreSQL; SQLite
    # already runs one writer at a time, and consume() above made this one the writer).
    customer = s.get(Customer, row.customer_id, with_for_update=True)
    if customer is None or not customer.active:
        raise tokens.TokenInvalid("This link is not valid. Ask for a new one.")
    if _has_owner(s, customer.id):
        raise tokens.TokenInvalid(ALREADY_CLAIMED)
    person = create_user(
        s,
        policy,
        username=username,
        email=row.email,
        password=password,
        role=Role.CUSTOMER,
        customer_id=customer.id,
    )
    s.flush()
    record(
        s,
        Action.ACCOUNT_CLAIMED,
        customer_id=customer.id,
        actor=as_person(person, who.address, who.user_agent),
        summary=f"{person.username} created the account's login from a claim link sent to "
        f"{row.email}",
    )
    return person
