"""The append-only audit log of every change to an account

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import portal.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The log is append-only in the database itself: whatever the code does, a row once written
# is never changed or removed (so the foreign keys below do not cascade either).
REFUSED = "audit_event is append-only"
APPEND_ONLY = {
    "sqlite": [
        f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED}: {verb} refused'); END"
        for verb in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION USING MESSAGE = '{REFUSED}: ' || TG_OP || ' refused', "
        "ERRCODE = 'restrict_violation'; END $$",
        *(
            f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()"
            for verb in ("UPDATE", "DELETE")
        ),
    ],
}


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["portal_user.id"],
            name=op.f("fk_audit_event_actor_user_id_portal_user"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_audit_event_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"], unique=False)
    op.create_index(
        "ix_audit_event_customer_id", "audit_event", ["customer_id", "id"], unique=False
    )
    for statement in APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_no_update ON audit_event")
        op.execute("DROP TRIGGER audit_event_no_delete ON audit_event")
        op.execute("DROP FUNCTION audit_event_refuse_change()")
    op.drop_index("ix_audit_event_customer_id", table_name="audit_event")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_table("audit_event")
