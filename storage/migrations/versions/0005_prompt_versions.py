"""Versioned prompts the admin edits (seeded from prompts/*.md.j2 at start).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(64), nullable=True),
        sa.UniqueConstraint("name", "version", name="uq_prompt_versions_name_version"),
    )
    # At most one live version per prompt, also when two admins publish at once.
    op.create_index(
        "uq_prompt_versions_one_live",
        "prompt_versions",
        ["name"],
        unique=True,
        sqlite_where=sa.text("status = 'live'"),
        postgresql_where=sa.text("status = 'live'"),
    )


def downgrade() -> None:
    op.drop_index("uq_prompt_versions_one_live", table_name="prompt_versions")
    op.drop_table("prompt_versions")
