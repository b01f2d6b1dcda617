"""Engine creation (SQLite gets WAL and a busy timeout) and schema migration via Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Connections per process. Many turns run at once on a batching model server, each holding a
# connection only for short transactions, but a busy process may pause a thread while it holds one:
# SQLite connections are cheap, so there is no cap. On PostgreSQL every replica may open up to
# pool_size + max_overflow connections, and all replicas together must stay under the server's
# max_connections (100 by default, a few reserved): the default 10 + 30 covers two replicas;
# `FRONTDESK_DB_POOL_SIZE` / `FRONTDESK_DB_MAX_OVERFLOW` size it for more.
SQLITE_POOL = {"pool_size": 32, "max_overflow": -1}


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 30) -> Engine:
    """Create an engine; SQLite connections get WAL, foreign keys and a 30 s busy timeout.

    `pool_size` and `max_overflow` bound a PostgreSQL engine's connections (SQLite's are not capped).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **SQLITE_POOL)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest Alembic revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
