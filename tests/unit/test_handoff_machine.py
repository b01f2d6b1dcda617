"""The handoff state machine's transition table, as pure data."""

from __future__ import annotations

import itertools

import pytest

from handoff import (
    ALLOWED_TRANSITIONS,
    AlreadyTakenError,
    ConversationState,
    HandoffConflictError,
    InvalidTransitionError,
    check_transition,
    parse_state,
)

BOT, QUEUED, HUMAN, CLOSED = (ConversationState(s) for s in ("bot", "queued", "human", "closed"))
ALLOWED = {(BOT, QUEUED), (QUEUED, HUMAN), (QUEUED, BOT), (QUEUED, CLOSED), (HUMAN, BOT), (HUMAN, CLOSED)}


def test_the_table_is_exactly_the_documented_one() -> None:
    table = {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert set(ALLOWED_TRANSITIONS) == set(ConversationState)


@pytest.mark.parametrize(("current", "wanted"), sorted(ALLOWED))
def test_allowed_moves_pass(current: ConversationState, wanted: ConversationState) -> None:
    check_transition("s", current, wanted)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [p for p in itertools.product(ConversationState, repeat=2) if p not in ALLOWED],
)
def test_every_other_move_is_a_conflict(current: ConversationState, wanted: ConversationState) -> None:
    with pytest.raises(InvalidTransitionError) as raised:
        check_transition("s", current, wanted)
    assert isinstance(raised.value, HandoffConflictError)
    assert (raised.value.current, raised.value.wanted, raised.value.session_id) == (current, wanted, "s")
    assert str(current) in str(raised.value) and str(wanted) in str(raised.value)


def test_closed_is_final() -> None:
    assert ALLOWED_TRANSITIONS[CLOSED] == frozenset()
    with pytest.raises(InvalidTransitionError, match="none, it is final"):
        check_transition("s", CLOSED, BOT)


def test_states_are_parsed_strictly() -> None:
    assert parse_state(" Queued ") == QUEUED
    assert parse_state(HUMAN) == HUMAN
    for bad in ("", "open", "queued; drop table", "x" * 10_000):
        with pytest.raises(ValueError, match="unknown conversation state"):
            parse_state(bad)


def test_already_taken_names_who_holds_it() -> None:
    error = AlreadyTakenError("s", HUMAN, "alice")
    assert isinstance(error, HandoffConflictError)
    assert "alice" in str(error) and error.assignee == "alice"
    assert "alice" not in str(AlreadyTakenError("s", CLOSED, "alice"))
