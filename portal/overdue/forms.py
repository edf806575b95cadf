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
    amount = StringField("Flat amount ($)", description="Used when the fee is a flat amount.")
    percent = StringField(
        "Percentage (%)", description="Of the invoice's overdue balance, up to 2 decimals."
    )
    minimum = StringField("Minimum fee ($)")
    cap = StringField("Largest fee ($)", description="Leave empty for no cap.")
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

    def to_policy(self) -> LateFeePolicy | None:
        """The policy the form describes, or None with the errors attached to the fields."""
        grace = self._grace_days()
        labels = {"amount": "flat amount", "percent": "percentage", "minimum": "minimum fee"}
        parsed = {name: self._decimal(getattr(self, name), label) for name, label in labels.items()}
        amounts = {name: value for name, value in parsed.items() if value is not None}
        cap = self._decimal(self.cap, "largest fee") if (self.cap.data or "").strip() else None
        if grace is None or len(amounts) < len(parsed) or self.errors:
            return None
        try:
            return LateFeePolicy(
                enabled=bool(self.enabled.data),
                grace_days=grace,
                kind=FeeKind(self.kind.data),
                amount=amounts["amount"],
                percent=amounts["percent"],
                minimum=amounts["minimum"],
                cap=cap,
                frequency=Frequency(self.frequency.data),
                item_name=(self.item_name.data or "").strip(),
            )
        except PolicyError as exc:
            self.form_errors.append(str(exc))
            return None

    def _grace_days(self) -> int | None:
        text = (self.grace_days.data or "").strip()
        if not text.isdigit() or not 0 <= int(text) <= 365:
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
