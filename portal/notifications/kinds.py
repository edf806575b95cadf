"""Every kind of notice the portal sends: its name for people, whether it can be turned off,
and which channels it uses unless the customer chose otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from portal.notifications.models import Channel


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # for the preferences page
    mandatory: bool = False  # cannot be turned off (e-mail at least)
    default: tuple[Channel, ...] = (Channel.EMAIL,)
    customer_choice: bool = True  # shown on the preferences page
    template: str = "notifications/notice"  # .txt and .html under templates/


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("new_invoice", "A new invoice"),
        Kind("due_soon", "Reminders before an invoice is due"),
        Kind("overdue", "An invoice is past due"),
        Kind("service_warning", "Service will be turned off", mandatory=True),
        Kind("service_suspended", "Service was turned off", mandatory=True),
        Kind("service_restored", "Service is back on"),
        Kind("statement", "Statements", template="notifications/statement"),
        Kind("receipt", "Payment receipts", mandatory=True),
        Kind("news", "News and alerts from us"),
        # Not the customer's to choose: sent to one login, or to a number being verified.
        Kind("security", "Security", mandatory=True, customer_choice=False),
        Kind(
            "phone_code",
            "Phone verification code",
            mandatory=True,
            customer_choice=False,
            default=(Channel.SMS,),
        ),
        Kind("autopay_upcoming", "Autopay: a charge is coming"),
        Kind("autopay_failed", "Autopay: a payment failed", mandatory=True),
        Kind("autopay_paused", "Autopay or a payment plan is paused", mandatory=True),
        Kind("autopay_over_limit", "Autopay: above your maximum, please pay", mandatory=True),
        Kind("scheduled_upcoming", "A scheduled payment is coming"),
        Kind("plan_installment", "A payment plan installment is coming"),
        Kind("card_expiring", "A saved card is about to expire"),
    )
}


def kind(name: str) -> Kind:
    """The kind named `name`; KeyError for an unknown one (a programming error)."""
    return KINDS[name]


def choosable() -> list[Kind]:
    """The kinds shown on the customer's preferences page, in order."""
    return [k for k in KINDS.values() if k.customer_choice]


def parse_channels(text: str) -> tuple[Channel, ...]:
    """Stored "email,sms" → (EMAIL, SMS); unknown names are dropped; "" means off."""
    known = {c.value: c for c in (Channel.EMAIL, Channel.SMS)}
    return tuple(known[p] for p in text.split(",") if p in known)
