"""Reads what the app under test stored, straight from its SQLite database in the data dir."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from memory.store import ConversationStore, StoredMessage
from storage import make_engine
from storage.models import Message


def stored_conversation(data_dir: Path, first_message: str) -> list[StoredMessage]:
    """The whole stored history of the session whose first customer message is `first_message`."""
    engine = make_engine(f"sqlite:///{data_dir / 'frontdesk.db'}")
    try:
        with engine.connect() as db:
            session_id = db.execute(
                select(Message.session_id)
                .where(Message.role == "user", Message.content == first_message)
                .order_by(Message.id)
                .limit(1)
            ).scalar_one()
        return ConversationStore(engine).messages(session_id)
    finally:
        engine.dispose()


def wait_for_statuses(
    data_dir: Path, first_message: str, statuses: list[str], *, timeout_s: float = 180
) -> None:
    """Wait until the customer messages of that session have these statuses, in order."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [m.status for m in stored_conversation(data_dir, first_message) if m.role == "user"]
        if found == statuses:
            return
        assert time.monotonic() < deadline, f"statuses {found}, expected {statuses}"
        time.sleep(0.5)
