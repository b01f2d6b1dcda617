"""The turn inspector's window: the rows the model saw for one turn and the earlier ones it dropped."""

from __future__ import annotations

from datetime import UTC, datetime

from memory.store import StoredMessage
from review.inspector import window_rows

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def row(
    id_: int, role: str, *, reply_to: int | None = None, status: str | None = None, **extra
) -> StoredMessage:
    return StoredMessage(
        id=id_,
        session_id="s",
        role=role,
        content=f"{role} {id_}",
        created_at=NOW,
        reply_to=reply_to,
        status=status,
        **extra,
    )


HISTORY = [
    row(1, "user", status="answered"),
    row(2, "assistant", reply_to=1),
    row(3, "user", status="failed"),  # never answered: not context for later turns
    row(4, "user", status="answered"),
    row(5, "assistant", reply_to=4, tool_calls=[{"name": "calculator", "args": {}, "id": "c"}]),
    row(6, "tool", reply_to=4, tool_call_id="c"),
    row(7, "assistant", reply_to=4),
    row(8, "user", status="answered"),
    row(9, "assistant", reply_to=8),  # the reply being inspected
    row(10, "user", status="answered"),  # later: not part of that turn
]


def ids(rows: list[StoredMessage]) -> list[int]:
    return [m.id for m in rows]


def test_the_trace_names_what_was_kept_and_the_rest_of_the_conversation_was_dropped() -> None:
    kept, dropped = window_rows(HISTORY, question_id=8, kept_ids=[4, 5, 6, 7, 8], kept_count=5)
    assert ids(kept) == [4, 5, 6, 7, 8]
    assert ids(dropped) == [1, 2]  # the failed message was never a candidate


def test_traces_from_before_ids_were_stored_keep_the_newest_rows_by_count() -> None:
    kept, dropped = window_rows(HISTORY, question_id=8, kept_ids=None, kept_count=1)
    assert ids(kept) == [8] and ids(dropped) == [1, 2, 4, 5, 6, 7]
    kept, dropped = window_rows(HISTORY, question_id=4, kept_ids=None, kept_count=None)
    assert ids(kept) == [1, 2, 4] and dropped == []


def test_tokens_a_backend_did_not_report_are_shown_as_not_reported(store) -> None:
    from review import inspect_reply
    from web.admin_conversations import inspector_markdown

    session = store.create_session()
    question = store.add_message(session_id=session, role="user", content="hi")
    steps = [
        {"model_ms": 5.0, "finish_reason": "tool_calls"},  # a backend that gives no usage
        {"model_ms": 7.0, "finish_reason": "stop", "input_tokens": 30, "output_tokens": 4},
    ]
    reply = store.add_message(
        session_id=session, role="assistant", content="hello", reply_to=question.id, trace={"steps": steps}
    )
    turn = inspect_reply(store.engine, reply.id)
    assert [(s["input_tokens"], s["output_tokens"]) for s in turn["steps"]] == [(None, None), (30, 4)]
    assert turn["tokens"] == {"input": 30, "output": 4, "unreported": 1}
    shown = inspector_markdown(turn)
    assert "- step 1: 5.0 ms, tokens not reported (tool_calls)" in shown
    assert "- step 2: 7.0 ms, 30 in / 4 out (stop)" in shown
    assert "**Tokens:** 30 in / 4 out (not reported for 1 of 2 steps)" in shown
    assert "None in" not in shown and "None out" not in shown

    silent = store.add_message(
        session_id=session, role="assistant", content="bye", reply_to=question.id, trace={"steps": steps[:1]}
    )
    nothing = inspect_reply(store.engine, silent.id)
    assert nothing["tokens"] == {"input": None, "output": None, "unreported": 1}
    assert "**Tokens:** not reported ·" in inspector_markdown(nothing)


def test_the_inspector_shows_why_the_check_dropped_a_sentence_and_what_was_quoted(store, checker) -> None:
    from grounding import Source
    from review import inspect_reply
    from web.admin_conversations import inspector_markdown

    source = Source(
        title="Shipping Costs",
        text="# Shipping Costs\n\nStandard Shipping is free on any US order with a subtotal of $49 or more.",
        document="shipping-costs",
    )
    question = "how much do i have to spend to get free shipping"
    verdict = checker.check(question=question, reply="Shipping is free on orders over $25.", sources=[source])
    session = store.create_session()
    asked = store.add_message(session_id=session, role="user", content=question)
    reply = store.add_message(
        session_id=session,
        role="assistant",
        content=verdict.text or "",
        reply_to=asked.id,
        trace={"steps": [{"model_ms": 9.0, "finish_reason": "stop"}], "answer_check": verdict.trace()},
    )
    shown = inspector_markdown(inspect_reply(store.engine, reply.id))
    assert "#### Answer check (`checked`" in shown and "0 kept, 1 dropped" in shown
    assert "**dropped** ~~Shipping is free on orders over $25.~~" in shown
    assert "a number, price, duration or time the sources do not have: $25" in shown, shown
    assert "closest: *Shipping Costs*: “Standard Shipping is free" in shown
    assert "**The customer got:** a quote of the sources, in place of the model's reply" in shown
    assert "**Quoted:** “Standard Shipping is free on any US order with a subtotal of $49 or more.”" in shown
