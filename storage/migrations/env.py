"""Alembic environment: runs migrations on the connection handed in by storage.db.migrate."""

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:
    # `alembic upgrade head` from the command line: read the URL like the app does.
    from settings import Settings

    engine = create_engine(Settings().resolved_database_url)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
