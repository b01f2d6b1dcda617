"""The conversation store: sessions and their full message history in SQL, via SQLAlchemy."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.models import ChatSession, Message, as_utc

# A session's state once a person closed it (handoff/machine.py: ConversationState.CLOSED).
CLOSED = "closed"


class UnknownSessionError(LookupError):
    """No session has this id."""


@dataclass(frozen=True)
class StoredMessage:
    id: int
    session_id: str
    role: str
    content: str
    created_at: datetime
    token_count: int = 0
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    citations: list[dict[str, Any]] | None = None
    trace: dict[str, Any] | None = None
    reply_to: int | None = None
    status: str | None = None

    @property
    def is_final_reply(self) -> bool:
        """An assistant row that answers its message (not a tool-call step)."""
        return self.role == "assistant" and not self.tool_calls

    def public(self) -> dict[str, Any]:
        """The message as the REST API shows it."""
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "created_at": self.created_at.isoformat(),
            "token_count": self.token_count,
            "tool_calls": self.tool_calls,
            "tool_call_id": self.tool_call_id,
            "citations": self.citations,
            "reply_to": self.reply_to,
            "status": self.status,
        }


@dataclass(frozen=True)
class SessionSnapshot:
    """A session's whole history and its handoff state, read together (one short transaction)."""

    session_id: str
    state: str
    messages: list[StoredMessage]

    def message(self, message_id: int) -> StoredMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)

    def pending(self, *, before: int) -> list[StoredMessage]:
        """The customer's messages still waiting for an answer, older than message `before`."""
        return [m for m in self.messages if m.role == "user" and m.status == "pending" and m.id < before]

    def reply_to(self, message_id: int) -> StoredMessage | None:
        """The final assistant reply to a user message, if it has one."""
        return next(
            (m for m in reversed(self.messages) if m.reply_to == message_id and m.is_final_reply), None
        )


@dataclass(frozen=True)
class SessionSummary:
    id: str
    title: str
    updated_at: datetime
    message_count: int


def stored_message(row: Any, *, trace: bool = True) -> StoredMessage:
    """A message row as a StoredMessage; `trace=False` for rows read without their trace column."""
    return StoredMessage(
        id=row.id,
        session_id=row.session_id,
        role=row.role,
        content=row.content,
        created_at=as_utc(row.created_at),
        token_count=row.token_count,
        tool_calls=row.tool_calls,
        tool_call_id=row.tool_call_id,
        citations=row.citations,
        trace=row.trace if trace else None,
        reply_to=row.reply_to,
        status=row.status,
    )


class ConversationStore:
    """Sessions and messages; every write is committed before the call returns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def create_session(self, *, client_id: str | None = None) -> str:
        with self._sessions.begin() as db:
            return self._new_chat(db, client_id).id

    def start_session(
        self, *, content: str, token_count: int = 0, client_id: str | None = None
    ) -> StoredMessage:
        """A new session and its first customer message, committed together: one write instead of
        two, and no session is left without the message that opened it."""
        with self._sessions.begin() as db:
            return self._add_customer(db, self._new_chat(db, client_id), content, token_count)

    def add_customer_message(self, *, session_id: str, content: str, token_count: int = 0) -> StoredMessage:
        """Commit a customer's message to their session. A session a person closed is finished
        (nothing moves it again, handoff/machine.py): the message opens a new session of the same
        client instead, in the same transaction. The result's `session_id` says which one it went to."""
        with self._sessions.begin() as db:
            chat = self._get(db, session_id)
            if chat.state == CLOSED:
                chat = self._new_chat(db, chat.client_id)
            return self._add_customer(db, chat, content, token_count)

    @staticmethod
    def _new_chat(db: Session, client_id: str | None) -> ChatSession:
        """A new session (a random, unguessable id) inside the caller's transaction."""
        chat = ChatSession(id=secrets.token_urlsafe(24), client_id=client_id)
        db.add(chat)
        return chat

    def _add_customer(self, db: Session, chat: ChatSession, content: str, token_count: int) -> StoredMessage:
        row = Message(session_id=chat.id, role="user", content=content, token_count=token_count)
        return self._add(db, chat, row)

    def exists(self, session_id: str) -> bool:
        with self._sessions() as db:
            return db.get(ChatSession, session_id) is not None

    def add_message(
        self,
        *,
        session_id: str,
        role: str,
        content: str,
        token_count: int = 0,
        tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None,
        citations: list[dict[str, Any]] | None = None,
        trace: dict[str, Any] | None = None,
        reply_to: int | None = None,
        also: Callable[[Session], None] | None = None,
    ) -> StoredMessage:
        """Commit one message. A user message starts `pending`; other rows name the message they answer.
        `also` runs in the same transaction (the turn lock's release with the reply: one commit)."""
        row = Message(
            session_id=session_id,
            role=role,
            content=content,
            token_count=token_count,
            tool_calls=tool_calls or None,
            tool_call_id=tool_call_id,
            citations=citations,
            trace=trace,
            reply_to=reply_to,
        )
        with self._sessions.begin() as db:
            stored = self._add(db, self._get(db, session_id), row)
            if also is not None:
                also(db)
            return stored

    @staticmethod
    def _add(db: Session, chat: ChatSession, row: Message) -> StoredMessage:
        """Add `row` to `chat` inside the caller's transaction."""
        now = datetime.now(UTC)
        row.created_at = now
        row.status = "pending" if row.role == "user" else None
        db.add(row)
        if row.role == "assistant" and not row.tool_calls and row.reply_to is not None:
            # The final reply and "answered" are one fact: commit them together.
            # (Not synchronised with the session: the answered message is not loaded in it.)
            answered = update(Message).where(Message.id == row.reply_to).values(status="answered")
            db.execute(answered.execution_options(synchronize_session=False))
        chat.updated_at = now
        if row.role == "user" and not chat.title:
            chat.title = " ".join(row.content.split())[:80]
        db.flush()
        return stored_message(row)

    def set_status(self, *, message_id: int, status: str) -> None:
        """Mark a user message `answered` or `failed` (it starts `pending`)."""
        with self._sessions.begin() as db:
            db.execute(update(Message).where(Message.id == message_id).values(status=status))

    def requeue_held(self, session_id: str) -> int:
        """The customer's messages kept for a person (`human`) that no person answered (written after
        the person's last reply) wait for the bot again (`pending`); returns how many."""
        with self._sessions.begin() as db:
            last_reply = db.scalar(
                select(func.max(Message.id)).where(
                    Message.session_id == session_id, Message.role == "human_agent"
                )
            )
            result = db.execute(
                update(Message)
                .where(
                    Message.session_id == session_id,
                    Message.role == "user",
                    Message.status == "human",
                    Message.id > (last_reply or 0),
                )
                .values(status="pending")
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def message(self, message_id: int) -> StoredMessage | None:
        with self._sessions() as db:
            row = db.get(Message, message_id)
            return stored_message(row) if row is not None else None

    def pending(self, session_id: str) -> list[StoredMessage]:
        """User messages still waiting for an answer, oldest first."""
        with self._sessions() as db:
            query = select(Message).where(
                Message.session_id == session_id, Message.role == "user", Message.status == "pending"
            )
            return [stored_message(r) for r in db.scalars(query.order_by(Message.id))]

    def update_token_count(self, *, message_id: int, token_count: int) -> None:
        with self._sessions.begin() as db:
            db.execute(update(Message).where(Message.id == message_id).values(token_count=token_count))

    def messages(self, session_id: str) -> list[StoredMessage]:
        """The whole stored history of a session, oldest first."""
        return self.snapshot(session_id).messages

    def snapshot(self, session_id: str) -> SessionSnapshot:
        """The history (oldest first) and the handoff state of a session, in one read."""
        with self._sessions() as db:
            chat = self._get(db, session_id)
            rows = db.scalars(select(Message).where(Message.session_id == session_id).order_by(Message.id))
            return SessionSnapshot(session_id, chat.state, [stored_message(r) for r in rows])

    def sessions_for_client(self, client_id: str, *, limit: int = 50) -> list[SessionSummary]:
        """The newest sessions started by one browser (or API client), newest first."""
        with self._sessions() as db:
            counts = (
                select(Message.session_id, func.count(Message.id).label("n"))
                .group_by(Message.session_id)
                .subquery()
            )
            rows = db.execute(
                select(ChatSession, counts.c.n)
                .join(counts, counts.c.session_id == ChatSession.id)
                .where(ChatSession.client_id == client_id)
                .order_by(ChatSession.updated_at.desc())
                .limit(limit)
            )
            return [
                SessionSummary(
                    id=s.id,
                    title=s.title or "New conversation",
                    updated_at=as_utc(s.updated_at),
                    message_count=n,
                )
                for s, n in rows.tuples()
            ]

    @staticmethod
    def _get(db: Session, session_id: str) -> ChatSession:
        chat = db.get(ChatSession, session_id)
        if chat is None:
            raise UnknownSessionError(session_id)
        return chat
