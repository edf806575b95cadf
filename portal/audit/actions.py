"""Every kind of audit event, named once: call sites record these, the staff filter offers them."""

from __future__ import annotations

import enum


class Action(enum.StrEnum):
    """A short dotted name per kind of change; the value is what the table stores."""

    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password.changed"  # noqa: S105  (an action name)
    PASSWORD_RESET = "password.reset"  # noqa: S105
    USERNAME_CHANGED = "username.changed"
    EMAIL_CHANGED = "email.changed"
    TWO_FACTOR_ADDED = "two_factor.added"
    TWO_FACTOR_REMOVED = "two_factor.removed"
    PASSKEY_ADDED = "passkey.added"
    PASSKEY_REMOVED = "passkey.removed"
    RECOVERY_CODES = "recovery_codes.renewed"
    SESSIONS_ENDED = "sessions.signed_out"
    DEVICES_FORGOTTEN = "devices.forgotten"
    METHOD_ADDED = "method.added"
    METHOD_REMOVED = "method.removed"
    METHOD_DEFAULT = "method.default"
    AUTOPAY_ENROLLED = "autopay.enrolled"
    AUTOPAY_CANCELLED = "autopay.cancelled"
    SCHEDULE_MADE = "schedule.made"
    SCHEDULE_CANCELLED = "schedule.cancelled"
    PLAN_CREATED = "plan.created"
    PAYMENT_MADE = "payment.made"
    CREDIT_APPLIED = "credit.applied"
    PREFERENCES_CHANGED = "preferences.changed"
    NOTIFICATIONS_CHANGED = "notifications.changed"
    INVITATION_SENT = "invitation.sent"
    DETAILS_CHANGED = "details.changed"
    DETAILS_CONFLICT = "details.conflict"
    PEOPLE_INVITED = "people.invited"
    PEOPLE_INVITE_CANCELLED = "people.invite_cancelled"
    PEOPLE_JOINED = "people.joined"
    PEOPLE_ROLE_CHANGED = "people.role_changed"
    PEOPLE_REMOVED = "people.removed"
    PEOPLE_OWNER_CHANGED = "people.owner_changed"
    LOCATION_RENAMED = "location.renamed"
    ACCOUNT_CLAIMED = "account.claimed"
    CLAIM_REQUESTED = "claim.requested"

    @property
    def label(self) -> str:
        """How a page names it."""
        return LABELS[self]


LABELS: dict[Action, str] = {
    Action.LOGIN: "Signed in",
    Action.LOGIN_FAILED: "Failed sign-in",
    Action.LOGOUT: "Signed out",
    Action.PASSWORD_CHANGED: "Password changed",
    Action.PASSWORD_RESET: "Password reset",
    Action.USERNAME_CHANGED: "Username changed",
    Action.EMAIL_CHANGED: "E-mail changed",
    Action.TWO_FACTOR_ADDED: "Authenticator added",
    Action.TWO_FACTOR_REMOVED: "Authenticator removed",
    Action.PASSKEY_ADDED: "Passkey added",
    Action.PASSKEY_REMOVED: "Passkey removed",
    Action.RECOVERY_CODES: "New recovery codes",
    Action.SESSIONS_ENDED: "Sessions signed out",
    Action.DEVICES_FORGOTTEN: "Devices forgotten",
    Action.METHOD_ADDED: "Payment method added",
    Action.METHOD_REMOVED: "Payment method removed",
    Action.METHOD_DEFAULT: "Default payment method",
    Action.AUTOPAY_ENROLLED: "Autopay turned on",
    Action.AUTOPAY_CANCELLED: "Autopay turned off",
    Action.SCHEDULE_MADE: "Payment scheduled",
    Action.SCHEDULE_CANCELLED: "Schedule cancelled",
    Action.PLAN_CREATED: "Payment plan set up",
    Action.PAYMENT_MADE: "Payment made",
    Action.CREDIT_APPLIED: "Credit applied",
    Action.PREFERENCES_CHANGED: "Display preferences",
    Action.NOTIFICATIONS_CHANGED: "Notification choices",
    Action.INVITATION_SENT: "Invitation sent",
    Action.DETAILS_CHANGED: "Details changed",
    Action.DETAILS_CONFLICT: "Details conflict",
    Action.PEOPLE_INVITED: "Person invited",
    Action.PEOPLE_INVITE_CANCELLED: "Invitation cancelled",
    Action.PEOPLE_JOINED: "Person joined",
    Action.PEOPLE_ROLE_CHANGED: "Access changed",
    Action.PEOPLE_REMOVED: "Person removed",
    Action.PEOPLE_OWNER_CHANGED: "Owner changed",
    Action.LOCATION_RENAMED: "Location renamed",
    Action.ACCOUNT_CLAIMED: "Account claimed",
    Action.CLAIM_REQUESTED: "Claim asked for",
}


def label_of(stored: str) -> str:
    """The label of a stored action (one recorded under a name not listed here as is)."""
    try:
        return Action(stored).label
    except ValueError:
        return stored
