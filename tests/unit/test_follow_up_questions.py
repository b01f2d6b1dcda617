"""A short follow-up that leans on the question before it ("and for Canada?") is searched and checked
as one question with it: alone, it finds whatever mentions Canada (found by a trial: shipping costs,
then "and for Canada?", quoted the duties article)."""

from __future__ import annotations

import pytest

from agents.retrieval import search_knowledge, standalone
from knowledge.types import RetrievedChunk

PREVIOUS = "How much does shipping cost?"


@pytest.mark.parametrize(
    ("follow_up", "asked"),
    [
        ("and for Canada?", "How much does shipping cost for Canada?"),
        ("what about Canada?", "How much does shipping cost for Canada?"),
        ("And to Toronto", "How much does shipping cost to Toronto?"),
        # A question of its own, or nothing to lean on: unchanged.
        ("And how long does it take to ship to Canada?", "And how long does it take to ship to Canada?"),
        ("Canada?", "Canada?"),
        ("and how much is it there?", "and how much is it there?"),
        ("and?", "and?"),
    ],
)
def test_a_follow_up_is_asked_with_the_question_before(follow_up: str, asked: str) -> None:
    assert standalone(follow_up, PREVIOUS) == asked
    assert standalone(follow_up, None) == follow_up


class Recording:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def retrieve(self, query: str, *, k: int | None = None) -> list[RetrievedChunk]:
        self.queries.append(query)
        return [RetrievedChunk("c:0", "c", "Canada", "", "Shipping to Canada costs CA$14.99.", 0.7)]

    def has_documents(self) -> bool:
        return True


def test_the_search_runs_on_the_whole_question() -> None:
    retriever = Recording()
    chunks, trace = search_knowledge(retriever, "and for Canada?", PREVIOUS)
    assert retriever.queries == ["How much does shipping cost for Canada?"]
    assert trace["query"] == "How much does shipping cost for Canada?" and len(chunks) == 1


@pytest.mark.parametrize(
    ("message", "asked"),
    [
        (
            "It's NW-10042, maria.lopez@example.com",
            "Can I cancel my order? It's NW-10042, maria.lopez@example.com",
        ),
        ("NW-10042", "Can I cancel my order? NW-10042"),
        # A message that asks something of its own stands alone.
        ("Where is NW-10042?", "Where is NW-10042?"),
        ("my order NW-10042 arrived broken", "my order NW-10042 arrived broken"),
    ],
)
def test_a_message_that_only_gives_the_order_answers_the_question_before(message: str, asked: str) -> None:
    # "Can I cancel my order?" is offered a lookup; the order number that follows is asked with it,
    # so the reply is the rule for that order's status, not its record alone.
    assert standalone(message, "Can I cancel my order?") == asked
