"""Turns tied to their message: a user message's status, each reply's `reply_to`, and the session's turn lease.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN, never batch mode: on SQLite a batch copies and drops the table, and
    # dropping chat_sessions would delete every message through the cascade.
    op.add_column("messages", sa.Column("reply_to", sa.Integer, nullable=True))
    op.add_column("messages", sa.Column("status", sa.String(16), nullable=True))
    op.create_index("ix_messages_reply_to", "messages", ["reply_to"])
    op.add_column("chat_sessions", sa.Column("turn_owner", sa.String(64), nullable=True))
    op.add_column("chat_sessions", sa.Column("turn_until", sa.DateTime(timezone=True), nullable=True))
    # Rows written before this revision: every user message counts as answered, and every other
    # row answers the newest user message before it.
    op.execute("UPDATE messages SET status = 'answered' WHERE role = 'user'")
    op.execute(
        "UPDATE messages SET reply_to = (SELECT MAX(u.id) FROM messages u "
        "WHERE u.session_id = messages.session_id AND u.role = 'user' AND u.id < messages.id) "
        "WHERE role <> 'user'"
    )


def downgrade() -> None:
    op.drop_column("chat_sessions", "turn_until")
    op.drop_column("chat_sessions", "turn_owner")
    op.drop_index("ix_messages_reply_to", table_name="messages")
    op.drop_column("messages", "status")
    op.drop_column("messages", "reply_to")
