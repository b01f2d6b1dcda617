"""Persistence: SQLAlchemy models, the engine (SQLite or PostgreSQL) and Alembic migrations."""

from storage.db import make_engine, migrate
from storage.models import Base, ChatSession, Document, Message

__all__ = ["Base", "ChatSession", "Document", "Message", "make_engine", "migrate"]
