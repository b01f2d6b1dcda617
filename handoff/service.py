"""Moves conversations between the bot and people, in the database: every move is one conditional
UPDATE (so two admins taking the same conversation cannot both win) stored with who, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from handoff.machine import (
    AlreadyTakenError,
    ConversationState,
    HandoffConflictError,
    check_transition,
    parse_state,
)
from memory.store import UnknownSessionError
from storage.models import ChatSession, HandoffTransition, as_utc

MAX_REASON_CHARS = 300
MAX_ACTOR_CHARS = 64
SUMMARY_CHARS = 160
# A move retries when another move changed the state between its check and its UPDATE.
MAX_MOVE_ATTEMPTS = 5
# The inbox shows what needs a person, in this order: waiting first, then those being handled.
INBOX_STATES = (ConversationState.QUEUED, ConversationState.HUMAN)


@dataclass(frozen=True)
class Transition:
    id: int
    session_id: str
    from_state: ConversationState
    to_state: ConversationState
    by: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class ConversationStatus:
    session_id: str
    state: ConversationState
    reason: str
    since: datetime
    assignee: str | None


def one_line(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _actor(by: str) -> str:
    actor = one_line(by, MAX_ACTOR_CHARS)
    if not actor:
        raise ValueError("a transition needs to say who made it (`by`)")
    return actor


class HandoffService:
    """The conversation state machine over the database; keyword-only beyond the session id."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def state(self, session_id: str) -> ConversationState:
        return self.status(session_id).state

    def status(self, session_id: str) -> ConversationStatus:
        """The current state with its reason, since when, and who holds it (UnknownSessionError if none)."""
        with self._sessions() as db:
            chat = self._get(db, session_id)
            return ConversationStatus(
                session_id=chat.id,
                state=ConversationState(chat.state),
                reason=chat.state_reason,
                since=as_utc(chat.state_changed_at or chat.created_at),
                assignee=chat.assignee,
            )

    def transition(
        self, session_id: str, to: ConversationState | str, *, by: str, reason: str = ""
    ) -> Transition:
        """Move the conversation to `to`; InvalidTransitionError (409) when its state does not allow it.

        The UPDATE only matches the state that was checked, so a concurrent move in between is
        noticed and the check is made again against the state that move left.
        """
        wanted, actor, why = parse_state(str(to)), _actor(by), one_line(reason, MAX_REASON_CHARS)
        for _ in range(MAX_MOVE_ATTEMPTS):
            with self._sessions.begin() as db:
                chat = self._get(db, session_id)
                current = ConversationState(chat.state)
                check_transition(session_id, current, wanted)
                assignee: str | None
                if wanted == ConversationState.HUMAN:
                    assignee = actor
                elif wanted == ConversationState.CLOSED:
                    assignee = chat.assignee
                else:
                    assignee = None
                moved = self._move(db, session_id, current, wanted, actor, why, assignee)
                if moved is not None:
                    return moved
        raise HandoffConflictError(session_id, current, wanted, "conversation state kept changing; try again")

    def take(self, session_id: str, *, by: str, reason: str = "") -> Transition:
        """A person takes a queued conversation (queued → human). Of several taking it at once exactly
        one wins; the others get AlreadyTakenError (409)."""
        actor = _actor(by)
        why = one_line(reason, MAX_REASON_CHARS) or f"taken by {actor}"
        with self._sessions.begin() as db:
            moved = self._move(
                db, session_id, ConversationState.QUEUED, ConversationState.HUMAN, actor, why, actor
            )
            if moved is not None:
                return moved
            chat = self._get(db, session_id)
            raise AlreadyTakenError(session_id, ConversationState(chat.state), chat.assignee)

    def transitions(self, session_id: str) -> list[Transition]:
        """Every stored move of the conversation, oldest first."""
        with self._sessions() as db:
            self._get(db, session_id)
            rows = db.scalars(
                select(HandoffTransition)
                .where(HandoffTransition.session_id == session_id)
                .order_by(HandoffTransition.id)
            )
            return [self._transition(r) for r in rows]

    # -- pieces ---------------------------------------------------------------------------------

    def _move(
        self,
        db: Session,
        session_id: str,
        current: ConversationState,
        wanted: ConversationState,
        actor: str,
        reason: str,
        assignee: str | None,
    ) -> Transition | None:
        """The conditional UPDATE and its transition row; None when the state was no longer `current`."""
        now = datetime.now(UTC)
        result = db.execute(
            update(ChatSession)
            .where(ChatSession.id == session_id, ChatSession.state == current.value)
            .values(state=wanted.value, state_reason=reason, state_changed_at=now, assignee=assignee)
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", result).rowcount != 1:
            return None
        row = HandoffTransition(
            session_id=session_id,
            from_state=current.value,
            to_state=wanted.value,
            actor=actor,
            reason=reason,
            created_at=now,
        )
        db.add(row)
        db.flush()
        return self._transition(row)

    @staticmethod
    def _transition(row: HandoffTransition) -> Transition:
        return Transition(
            id=row.id,
            session_id=row.session_id,
            from_state=ConversationState(row.from_state),
            to_state=ConversationState(row.to_state),
            by=row.actor,
            reason=row.reason,
            at=as_utc(row.created_at),
        )

    @staticmethod
    def _get(db: Session, session_id: str) -> ChatSession:
        chat = db.get(ChatSession, session_id)
        if chat is None:
            raise UnknownSessionError(session_id)
        return chat
