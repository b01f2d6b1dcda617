"""Integrations: channels, their conversations and webhook events, the callback outbox, API keys.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("secret_nonce", sa.String(64), nullable=False),
        sa.Column("previous_nonce", sa.String(64), nullable=True),
        _when("previous_until", nullable=True),
        _when("created_at"),
        _when("rotated_at", nullable=True),
    )
    op.create_table(
        "channel_conversations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column(
            "session_id", sa.String(64), sa.ForeignKey("chat_sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("user_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("user_name", sa.String(200), nullable=True),
        sa.Column("user_email", sa.String(254), nullable=True),
        _when("created_at"),
        sa.UniqueConstraint("channel_id", "conversation_id", name="uq_channel_conversation"),
    )
    op.create_index(
        "ix_channel_conversations_session_id", "channel_conversations", ["session_id"], unique=True
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("message_id", sa.Integer, nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("response_body", sa.JSON, nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.UniqueConstraint("channel_id", "event_id", name="uq_webhook_event"),
    )
    op.create_index("ix_webhook_events_message_id", "webhook_events", ["message_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _when("next_attempt_at"),
        _when("claimed_until", nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        _when("created_at"),
        _when("delivered_at", nullable=True),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_channel_id", "outbox", ["channel_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        _when("created_at"),
        _when("revoked_at", nullable=True),
    )


def downgrade() -> None:
    for table in ("api_keys", "outbox", "webhook_events", "channel_conversations", "channels"):
        op.drop_table(table)
