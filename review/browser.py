"""The conversation browser: a searchable, paged list of sessions with their counts and handoff
state, and a session's transcript (in conversation order) with each reply's rating. Neither loads a turn's trace (the turn
inspector reads one at a time), so a long conversation or a large store still lists fast."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Engine, Select, case, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from handoff import ConversationState, parse_state
from handoff.service import SUMMARY_CHARS, one_line
from memory.order import conversation_order
from memory.store import StoredMessage, UnknownSessionError, stored_message
from review.feedback import FeedbackService
from storage.feedback_models import Feedback
from storage.models import ChatSession, Message, as_utc

MAX_PAGE_SIZE = 1000
MAX_QUERY_CHARS = 200
# Inbox order: waiting first, then those being handled, oldest first; "recent": newest activity first.
Order = Literal["inbox", "recent"]
_STATE_ORDER = {"queued": 0, "human": 1, "bot": 2, "closed": 3}
# Every column of a message but its trace, which only the inspector needs.
_LIGHT_COLUMNS = (
    Message.id,
    Message.session_id,
    Message.role,
    Message.content,
    Message.created_at,
    Message.token_count,
    Message.tool_calls,
    Message.tool_call_id,
    Message.citations,
    Message.reply_to,
    Message.status,
)


@dataclass(frozen=True)
class ConversationRow:
    session_id: str
    state: ConversationState
    since: datetime
    reason: str
    assignee: str | None
    title: str
    last_customer_message: str
    started_at: datetime
    last_message_at: datetime
    messages: int
    customer_messages: int
    feedback: dict[str, int] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One line: why it was handed over, else what the customer last said."""
        return self.reason or self.last_customer_message or self.title

    def public(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "state": str(self.state),
            "since": self.since.isoformat(),
            "reason": self.reason,
            "assignee": self.assignee,
            "title": self.title,
            "last_customer_message": self.last_customer_message,
            "summary": self.summary,
            "started_at": self.started_at.isoformat(),
            "last_message_at": self.last_message_at.isoformat(),
            "messages": self.messages,
            "customer_messages": self.customer_messages,
            "feedback": self.feedback,
        }


@dataclass(frozen=True)
class ConversationPage:
    conversations: list[ConversationRow]
    total: int
    page: int
    page_size: int


def _like(text: str) -> str:
    """A LIKE pattern that matches `text` literally anywhere (escape char: backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def light_message(row: Any) -> StoredMessage:
    """A stored message read without its trace."""
    return stored_message(row, trace=False)


def light_history(db: Session, session_id: str) -> list[StoredMessage]:
    """A session's messages in the order they were stored, without their traces."""
    rows = db.execute(select(*_LIGHT_COLUMNS).where(Message.session_id == session_id).order_by(Message.id))
    return [light_message(r) for r in rows]


def is_inspectable(message: StoredMessage) -> bool:
    """A final reply of the bot, which has a trace for the inspector."""
    return message.is_final_reply and message.reply_to is not None


class ConversationBrowser:
    """Reads sessions for the admin; writes nothing."""

    def __init__(self, engine: Engine, feedback: FeedbackService | None = None) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.feedback = feedback or FeedbackService(engine)

    def search(
        self,
        *,
        states: Sequence[str] | None = None,
        q: str = "",
        page: int = 1,
        page_size: int = 50,
        order: Order = "recent",
    ) -> ConversationPage:
        """One page of sessions in `states` (all when None) whose id, title or any message contains `q`."""
        wanted = [parse_state(s).value for s in states] if states is not None else None
        page, page_size = max(1, page), max(1, min(page_size, MAX_PAGE_SIZE))
        q = q.replace("\x00", "").strip()[:MAX_QUERY_CHARS]  # PostgreSQL text cannot hold NUL
        where: list[Any] = []
        if wanted is not None:
            where.append(ChatSession.state.in_(wanted))
        if q:
            pattern = _like(q)
            where.append(
                or_(
                    ChatSession.id == q,
                    ChatSession.title.ilike(pattern, escape="\\"),
                    exists().where(
                        Message.session_id == ChatSession.id,
                        Message.role.in_(("user", "assistant", "human_agent")),
                        Message.content.ilike(pattern, escape="\\"),
                    ),
                )
            )
        with self._sessions() as db:
            total = db.scalar(select(func.count(ChatSession.id)).where(*where)) or 0
            query = self._page_query(where, order).offset((page - 1) * page_size).limit(page_size)
            rows = cast(
                "list[tuple[ChatSession, str | None, int | None, int | None]]",
                db.execute(query).tuples().all(),
            )
            ids = [r[0].id for r in rows]
            feedback = self._feedback_counts(db, ids)
        return ConversationPage(
            conversations=[
                ConversationRow(
                    session_id=chat.id,
                    state=ConversationState(chat.state),
                    since=as_utc(chat.state_changed_at or chat.created_at),
                    reason=chat.state_reason,
                    assignee=chat.assignee,
                    title=chat.title,
                    last_customer_message=one_line(last or "", SUMMARY_CHARS),
                    started_at=as_utc(chat.created_at),
                    last_message_at=as_utc(chat.updated_at),
                    messages=n or 0,
                    customer_messages=n_user or 0,
                    feedback=feedback.get(chat.id, {"up": 0, "down": 0}),
                )
                for chat, last, n, n_user in rows
            ],
            total=total,
            page=page,
            page_size=page_size,
        )

    def history(self, session_id: str) -> list[StoredMessage]:
        """The session's messages in the order they were stored, without their traces (what a
        transcript shows: a polling Inbox reads this every few seconds); UnknownSessionError if none."""
        with self._sessions() as db:
            if db.get(ChatSession, session_id) is None:
                raise UnknownSessionError(session_id)
            return light_history(db, session_id)

    def transcript(self, session_id: str) -> list[dict[str, Any]]:
        """The session's messages in conversation order (each reply, with its turn's tool steps,
        right after the message it answers: memory/order.py), each with its rating and whether it
        has a trace."""
        history = conversation_order(self.history(session_id))
        ratings = self.feedback.for_messages([m.id for m in history if m.role != "user"])
        return [
            {
                **m.public(),
                "inspectable": is_inspectable(m),
                "feedback": ratings[m.id].public() if m.id in ratings else None,
            }
            for m in history
        ]

    @staticmethod
    def _page_query(where: list[Any], order: Order) -> Select[Any]:
        last_customer = (
            select(Message.content)
            .where(Message.session_id == ChatSession.id, Message.role == "user")
            .order_by(Message.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        counts = (
            select(
                Message.session_id.label("session_id"),
                func.count(Message.id).label("n"),
                func.sum(case((Message.role == "user", 1), else_=0)).label("n_user"),
            )
            .group_by(Message.session_id)
            .subquery()
        )
        query = (
            select(ChatSession, last_customer, counts.c.n, counts.c.n_user)
            .outerjoin(counts, counts.c.session_id == ChatSession.id)
            .where(*where)
        )
        if order == "inbox":
            since = func.coalesce(ChatSession.state_changed_at, ChatSession.created_at)
            return query.order_by(
                case(_STATE_ORDER, value=ChatSession.state, else_=99), since, ChatSession.id
            )
        return query.order_by(ChatSession.updated_at.desc(), ChatSession.id)

    @staticmethod
    def _feedback_counts(db: Session, session_ids: list[str]) -> dict[str, dict[str, int]]:
        if not session_ids:
            return {}
        rows = db.execute(
            select(Feedback.session_id, Feedback.rating, func.count(Feedback.id))
            .where(Feedback.session_id.in_(session_ids))
            .group_by(Feedback.session_id, Feedback.rating)
        ).tuples()
        counts: dict[str, dict[str, int]] = {}
        for session_id, rating, n in rows:
            counts.setdefault(session_id, {"up": 0, "down": 0})[rating] = n
        return cast("dict[str, dict[str, int]]", counts)
