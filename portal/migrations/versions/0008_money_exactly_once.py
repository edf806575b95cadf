"""Money exactly once: one outbox row and one receipt per cause, request generations after a
definite refusal, the effects of writes on invoices (the balance overlay and write order), and
QuickBooks' own balance kept beside the portal's

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:30:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(14, 2, asdecimal=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("fault_code", sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_dedupe_key"), ["dedupe_key"])

    _backfill_dedupe_keys()

    with op.batch_alter_table("outbound_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=80), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_outbound_email_dedupe_key"), ["dedupe_key"]
        )

    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("qbo_balance", MONEY, nullable=True))

    op.create_table(
        "outbox_effect",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("realm_id", sa.String(length=32), nullable=False),
        sa.Column("invoice_qbo_id", sa.String(length=32), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("linked_txn_id", sa.String(length=32), nullable=True),
        sa.Column("sync_token", sa.String(length=16), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_outbox_effect_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_effect_message_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_effect")),
    )
    with op.batch_alter_table("outbox_effect", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_effect_invoice", ["realm_id", "invoice_qbo_id"])
        batch_op.create_index(batch_op.f("ix_outbox_effect_message_id"), ["message_id"])


def _backfill_dedupe_keys() -> None:
    """Name the cause of the rows already queued (payments and late fees)."""
    conn = op.get_bind()
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("payload", sa.Text),
        sa.column("dedupe_key", sa.String),
    )
    fields = {"qbo.payment": ("payment", "payment_id"), "qbo.late_fee": ("late_fee", "late_fee_id")}
    rows = conn.execute(sa.select(outbox.c.id, outbox.c.kind, outbox.c.payload)).all()
    for row_id, kind, payload in rows:
        if kind not in fields:
            continue
        prefix, field = fields[kind]
        value = json.loads(payload).get(field)
        if value is not None:
            conn.execute(
                outbox.update().where(outbox.c.id == row_id).values(dedupe_key=f"{prefix}:{value}")
            )


def downgrade() -> None:
    op.drop_table("outbox_effect")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("qbo_balance")
    with op.batch_alter_table("outbound_email", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbound_email_dedupe_key"), type_="unique")
        batch_op.drop_column("dedupe_key")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_dedupe_key"), type_="unique")
        batch_op.drop_column("fault_code")
        batch_op.drop_column("generation")
        batch_op.drop_column("dedupe_key")
