"""The store the agent acts on (customers, orders, tickets, refund requests), each session's handoff
state and verified customer, and the stored handoff transitions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(16), nullable=False, unique=True),
        sa.Column(
            "customer_id", sa.Integer, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("estimated_delivery", sa.Date, nullable=True),
        sa.Column("carrier", sa.String(32), nullable=True),
        sa.Column("tracking_number", sa.String(64), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
        sa.Column("subtotal_cents", sa.Integer, nullable=False),
        sa.Column("shipping_cents", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tax_cents", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_cents", sa.Integer, nullable=False),
        sa.Column("ship_to_name", sa.String(200), nullable=False),
        sa.Column("ship_to_address", sa.String(300), nullable=False),
        sa.Column("ship_to_city", sa.String(100), nullable=False),
        sa.Column("ship_to_region", sa.String(50), nullable=False),
        sa.Column("ship_to_postal_code", sa.String(20), nullable=False),
        sa.Column("ship_to_country", sa.String(2), nullable=False),
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price_cents", sa.Integer, nullable=False),
    )
    op.create_index("ix_order_items_order_id", "order_items", ["order_id"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id", sa.String(64), sa.ForeignKey("chat_sessions.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "customer_id", sa.Integer, sa.ForeignKey("customers.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tickets_session_id", "tickets", ["session_id"])
    op.create_index("ix_tickets_customer_id", "tickets", ["customer_id"])
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_table(
        "refund_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id", sa.String(64), sa.ForeignKey("chat_sessions.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "customer_id", sa.Integer, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decision_note", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_refund_requests_session_id", "refund_requests", ["session_id"])
    op.create_index("ix_refund_requests_customer_id", "refund_requests", ["customer_id"])
    op.create_index("ix_refund_requests_order_id", "refund_requests", ["order_id"])
    op.create_index("ix_refund_requests_status", "refund_requests", ["status"])
    op.create_index(
        "uq_refund_requests_pending_order",
        "refund_requests",
        ["order_id"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "handoff_transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id",
            sa.String(64),
            sa.ForeignKey("chat_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_handoff_transitions_session_id_id", "handoff_transitions", ["session_id", "id"])
    # Plain ADD COLUMNs (no batch copy): SQLite can add these in place, so `messages`, which
    # cascades from chat_sessions, is never copied or dropped. SQLite cannot add a foreign key to
    # an existing table without that copy, so there the customer reference goes unchecked.
    op.add_column("chat_sessions", sa.Column("state", sa.String(16), nullable=False, server_default="bot"))
    op.add_column(
        "chat_sessions", sa.Column("state_reason", sa.String(300), nullable=False, server_default="")
    )
    op.add_column("chat_sessions", sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("chat_sessions", sa.Column("assignee", sa.String(64), nullable=True))
    op.add_column("chat_sessions", sa.Column("verified_customer_id", sa.Integer, nullable=True))
    op.create_index("ix_chat_sessions_state", "chat_sessions", ["state"])
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key(
            "fk_chat_sessions_verified_customer_id",
            "chat_sessions",
            "customers",
            ["verified_customer_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_chat_sessions_verified_customer_id", "chat_sessions", type_="foreignkey")
    op.drop_index("ix_chat_sessions_state", table_name="chat_sessions")
    # Plain DROP COLUMNs for the same reason as above: a batch copy of chat_sessions would drop the
    # old table, and with foreign keys on, SQLite would cascade that to every message.
    for column in ("verified_customer_id", "assignee", "state_changed_at", "state_reason", "state"):
        op.drop_column("chat_sessions", column)
    for table in ("handoff_transitions", "refund_requests", "tickets", "order_items", "orders", "customers"):
        op.drop_table(table)
