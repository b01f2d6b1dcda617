"""The handoff state machine as pure data: the states a conversation can be in, the moves allowed
between them, and the errors a forbidden move raises (the REST layer answers them with 409)."""

from __future__ import annotations

from enum import StrEnum


class ConversationState(StrEnum):
    BOT = "bot"  # the agent answers
    QUEUED = "queued"  # waiting for a person; the agent stays silent
    HUMAN = "human"  # a person has taken it; the agent stays silent
    CLOSED = "closed"  # finished; nothing moves it again


# The states in which a person, not the agent, answers the customer.
PERSON_STATES = frozenset({ConversationState.QUEUED, ConversationState.HUMAN})

ALLOWED_TRANSITIONS: dict[ConversationState, frozenset[ConversationState]] = {
    ConversationState.BOT: frozenset({ConversationState.QUEUED}),
    ConversationState.QUEUED: frozenset(
        {ConversationState.HUMAN, ConversationState.BOT, ConversationState.CLOSED}
    ),
    ConversationState.HUMAN: frozenset({ConversationState.BOT, ConversationState.CLOSED}),
    ConversationState.CLOSED: frozenset(),
}


class HandoffConflictError(Exception):
    """A move the conversation's current state does not allow (HTTP 409)."""

    def __init__(self, session_id: str, current: ConversationState, wanted: ConversationState, message: str):
        super().__init__(message)
        self.session_id = session_id
        self.current = current
        self.wanted = wanted


class InvalidTransitionError(HandoffConflictError):
    """`current → wanted` is not one of ALLOWED_TRANSITIONS."""

    def __init__(self, session_id: str, current: ConversationState, wanted: ConversationState):
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "none, it is final"
        super().__init__(
            session_id,
            current,
            wanted,
            f"conversation is {current}; it cannot move to {wanted} (allowed from {current}: {allowed})",
        )


class AlreadyTakenError(HandoffConflictError):
    """Someone else took the queued conversation first (or it is no longer queued)."""

    def __init__(self, session_id: str, current: ConversationState, assignee: str | None):
        who = f" by {assignee}" if assignee and current == ConversationState.HUMAN else ""
        super().__init__(
            session_id,
            current,
            ConversationState.HUMAN,
            f"conversation is no longer waiting in the queue: it is {current}{who}",
        )
        self.assignee = assignee


def parse_state(value: str) -> ConversationState:
    """The state named `value`; ValueError (HTTP 422) for anything else."""
    try:
        return ConversationState(value.strip().lower())
    except (ValueError, AttributeError):
        names = ", ".join(s.value for s in ConversationState)
        raise ValueError(f"unknown conversation state {str(value)[:40]!r} (states: {names})") from None


def check_transition(session_id: str, current: ConversationState, wanted: ConversationState) -> None:
    """Raise InvalidTransitionError unless `current → wanted` is allowed."""
    if wanted not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransitionError(session_id, current, wanted)
