"""Human handoff: the conversation state machine (bot → queued → human → bot | closed) and the
service that stores every move and lets exactly one person take a queued conversation."""

from handoff.machine import (
    ALLOWED_TRANSITIONS,
    PERSON_STATES,
    AlreadyTakenError,
    ConversationState,
    HandoffConflictError,
    InvalidTransitionError,
    check_transition,
    parse_state,
)
from handoff.service import ConversationStatus, HandoffService, Transition

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AlreadyTakenError",
    "ConversationState",
    "ConversationStatus",
    "HandoffConflictError",
    "PERSON_STATES",
    "HandoffService",
    "InvalidTransitionError",
    "Transition",
    "check_transition",
    "parse_state",
]
