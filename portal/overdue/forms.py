"""The late-fee policy form: every value checked, each error next to its field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired

from portal.forms import CleanText
from portal.overdue.policy import (
    FeeKind,
    Frequency,
    LateFeePolicy,
    PolicyError,
    parse_decimal,
)

# The fields each kind of fee reads (name → label in messages); the others are ignored.
RELEVANT = {
    FeeKind.FLAT: {"amount": "flat amount"},
    FeeKind.PERCENT: {"percent": "percentage", "minimum": "minimum fee"},
}


class PolicyForm(FlaskForm):
    enabled = BooleanField("Charge late fees")
    grace_days = StringField(
        "Grace days", description="Days after the due date before a fee is charged."
    )
    kind = SelectField(
        "Fee",
        choices=[
            SelectChoice(FeeKind.FLAT.value, "A flat amount"),
            SelectChoice(FeeKind.PERCENT.value, "A percentage"),
        ],
    )
    amount = StringField("Flat amount ($)", description="For a flat fee only.")
    percent = StringField(
        "Percentage (%)",
        description="For a percentage fee only: of the overdue balance, up to 2 decimals.",
    )
    minimum = StringField("Minimum fee ($)", description="For a percentage fee only.")
    cap = StringField(
        "Largest fee ($)", description="For a percentage fee only; leave empty for no cap."
    )
    frequency = SelectField(
        "How often",
        choices=[
            SelectChoice(Frequency.ONCE.value, "Once per overdue invoice"),
            SelectChoice(Frequency.MONTHLY.value, "Every month the invoice stays unpaid"),
        ],
    )
    item_name = StringField(
        "QuickBooks item",
        validators=[DataRequired("Name the QuickBooks item of the fee line."), CleanText(100)],
        description="The service Item on the fee line, e.g. Late fee.",
    )

    def to_policy(self, previous: LateFeePolicy) -> LateFeePolicy | None:
        """The policy the form describes, or None with the errors attached to the fields.
        Only the chosen kind's fields are read: a flat fee has no minimum or cap, and the
        other kind's rate is kept as it was (`previous`) for switching back."""
        grace = self._grace_days()
        kind = FeeKind(self.kind.data)
        labels = RELEVANT[kind]
        parsed = {name: self._decimal(getattr(self, name), label) for name, label in labels.items()}
        amounts = {name: value for name, value in parsed.items() if value is not None}
        cap = None
        if kind is FeeKind.PERCENT and (self.cap.data or "").strip():
            cap = self._decimal(self.cap, "largest fee")
        if grace is None or len(amounts) < len(parsed) or self.errors:
            return None
        try:
            return LateFeePolicy(
                enabled=bool(self.enabled.data),
                grace_days=grace,
                kind=kind,
                amount=amounts.get("amount", previous.amount),
                percent=amounts.get("percent", previous.percent),
                minimum=amounts.get("minimum", Decimal("0.00")),
                cap=cap,
                frequency=Frequency(self.frequency.data),
                item_name=(self.item_name.data or "").strip(),
            )
        except PolicyError as exc:
            self.form_errors.append(str(exc))
            return None

    def _grace_days(self) -> int | None:
        text = (self.grace_days.data or "").strip()
        if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 365:
            _error(self.grace_days, "Enter the grace days as a whole number from 0 to 365.")
            return None
        return int(text)

    @staticmethod
    def _decimal(field: Field, label: str) -> Decimal | None:
        try:
            return parse_decimal(field.data or "", label)
        except PolicyError as exc:
            _error(field, str(exc))
            return None


def _error(field: Field, message: str) -> None:
    errors: Any = field.errors
    if isinstance(errors, tuple):  # before validate() WTForms keeps an empty tuple
        field.errors = errors = []
    errors.append(message)


def form_data(policy: LateFeePolicy) -> dict[str, Any]:
    """The form's initial values for a policy."""
    return {
        "enabled": policy.enabled,
        "grace_days": str(policy.grace_days),
        "kind": policy.kind.value,
        "amount": f"{policy.amount:.2f}",
        "percent": f"{policy.percent:.2f}",
        "minimum": f"{policy.minimum:.2f}",
        "cap": f"{policy.cap:.2f}" if policy.cap is not None else "",
        "frequency": policy.frequency.value,
        "item_name": policy.item_name,
    }
