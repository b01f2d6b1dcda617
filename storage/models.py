"""SQLAlchemy 2 table models: chat sessions (with their handoff state), their messages, the handoff
transitions, the knowledge-base document list, and the answer check's
sentence vectors. The store's tables live in `commerce_models.py`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime: SQLite drops the timezone on the way back."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class ChatSession(Base):
    """One conversation. The id is random and unguessable; knowing it is what grants access."""

    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The turn lease: which worker is answering this session's messages, and until when (renewed
    # while it works). One turn at a time per session, across processes (see memory/turnlock.py).
    turn_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    turn_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Who answers: bot | queued | human | closed (handoff/machine.py has the allowed moves). The
    # reason and time are the newest transition's, kept here so the inbox needs no join.
    state: Mapped[str] = mapped_column(String(16), default="bot", index=True)
    state_reason: Mapped[str] = mapped_column(String(300), default="")
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The customer this conversation proved to be (order number + the email on it), if any.
    verified_customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True
    )

    messages: Mapped[list[Message]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(Base):
    """One stored message: user, assistant (text and/or tool calls) or tool result."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_session_id_id", "session_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    token_count: Mapped[int] = mapped_column(Integer, default=0)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    tool_call_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    citations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    trace: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Assistant and tool rows: the user message they answer. User rows: pending | answered | failed.
    reply_to: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)

    session: Mapped[ChatSession] = relationship(back_populates="messages")


class HandoffTransition(Base):
    """One stored move of a conversation's state: from, to, by whom, when and why."""

    __tablename__ = "handoff_transitions"
    __table_args__ = (Index("ix_handoff_transitions_session_id_id", "session_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Document(Base):
    """A knowledge-base document; its chunks live in Chroma under ids derived from `id`."""

    __tablename__ = "kb_documents"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    chunk_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SentenceVector(Base):
    """The answer check's embedding of one source sentence (in its context), computed once and shared
    by every app process and restart (grounding/stored_vectors.py)."""

    __tablename__ = "sentence_vectors"

    # sha256 of the embedding model's name and the text: another model gets other rows.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, unit length
