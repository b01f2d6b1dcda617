"""The acting tools through `run_tool_call` with a per-turn ToolContext, on a real SQLite store:
the happy paths, and every bad input the issue lists, with nothing leaking across customers."""

from __future__ import annotations

import json

import pytest
from langchain_core.utils.function_calling import convert_to_openai_tool
from sqlalchemy import func, select

from commerce import CommerceService, seed_demo_store
from handoff import ConversationState, HandoffService
from memory import ConversationStore
from storage import Customer, Order, RefundRequest, Ticket
from tools import ToolContext, build_tools, run_tool_call
from tools.orders import NEED_EMAIL, NO_MATCH, NOT_AN_ORDER_NUMBER, NOT_THEIRS

MARIA = "maria.lopez@example.com"
TOOLS = build_tools()


@pytest.fixture
def engine(store: ConversationStore):
    seed_demo_store(store.engine)
    return store.engine


def new_context(engine, session_id: str | None = None) -> ToolContext:
    session_id = session_id or ConversationStore(engine).create_session()
    return ToolContext.for_session(
        session_id, commerce=CommerceService(engine), handoff=HandoffService(engine)
    )


def call(context: ToolContext | None, name: str, args: object):
    return run_tool_call(TOOLS, {"name": name, "args": args, "id": "call_1"}, context)


def other_order(engine) -> Order:
    """An order of someone other than Maria, with its tracking number and address to look for."""
    with engine.connect() as conn:
        return conn.execute(
            select(Order)
            .join(Customer)
            .where(Customer.email != MARIA, Order.tracking_number.is_not(None))
            .order_by(Order.number)
            .limit(1)
        ).one()


def assert_reveals_nothing_of(result: str, order: Order) -> None:
    for secret in (order.tracking_number, order.ship_to_city, order.ship_to_name, order.carrier, "Status"):
        assert secret not in result, (secret, result)


def count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_the_model_never_sees_the_context_argument() -> None:
    names = {t.name for t in TOOLS}
    assert names == {"lookup_order", "open_ticket", "request_refund", "request_human", "calculator"}
    for tool in TOOLS:
        schema = tool.tool_call_schema.model_json_schema()
        assert "context" not in schema["properties"], tool.name
        assert tool.description and all(p.get("description") for p in schema["properties"].values())
        assert "context" not in json.dumps(convert_to_openai_tool(tool))


def test_order_status_with_the_email_on_the_order_is_remembered_by_the_session(engine) -> None:
    context = new_context(engine)
    outcome = call(context, "lookup_order", {"order_id": "NW-10042", "email": MARIA})
    assert outcome.ok, outcome.result
    for fact in (
        "NW-10042",
        "Shipped",
        "UPS",
        "1Z999AA10123456784",
        "placed 20",
        "shipped 20",
        "estimated delivery",
    ):
        assert fact in outcome.result
    assert context.verified_customer_id is not None
    # The same turn, and a later turn with a fresh context: no email needed any more.
    assert call(context, "lookup_order", {"order_id": "nw 10042"}).ok
    later = new_context(engine, context.session_id)
    assert later.verified_customer_id == context.verified_customer_id
    assert "1Z999AA10123456784" in call(later, "lookup_order", {"order_id": "NW-10042"}).result
    # Another conversation is not verified by this one.
    assert call(new_context(engine), "lookup_order", {"order_id": "NW-10042"}).result == NEED_EMAIL.format(
        number="NW-10042"
    )


def test_an_unverified_session_is_asked_for_the_email_whether_or_not_the_order_exists(engine) -> None:
    context = new_context(engine)
    existing = call(context, "lookup_order", {"order_id": "NW-10042"})
    missing = call(context, "lookup_order", {"order_id": "NW-99999"})
    assert not existing.ok and existing.result == NEED_EMAIL.format(number="NW-10042")
    assert existing.result.replace("NW-10042", "#") == missing.result.replace("NW-99999", "#")
    assert "1Z999AA10123456784" not in existing.result and "UPS" not in existing.result


def test_a_wrong_email_reveals_nothing_and_reads_like_a_missing_order(engine) -> None:
    context = new_context(engine)
    wrong = call(context, "lookup_order", {"order_id": "NW-10042", "email": "someone@example.com"})
    missing = call(context, "lookup_order", {"order_id": "NW-99999", "email": MARIA})
    assert wrong.result == missing.result == NO_MATCH
    assert not wrong.ok and context.verified_customer_id is None
    assert "Portland" not in wrong.result and "1Z999AA10123456784" not in wrong.result
    bad_email = call(context, "lookup_order", {"order_id": "NW-10042", "email": "not an email"})
    assert "not an email address" in bad_email.result


def test_a_verified_customer_gets_nothing_about_another_customers_order(engine) -> None:
    context = new_context(engine)
    assert call(context, "lookup_order", {"order_id": "NW-10042", "email": MARIA}).ok
    theirs = other_order(engine)
    asked = call(context, "lookup_order", {"order_id": theirs.number})
    assert not asked.ok and asked.result == NOT_THEIRS.format(number=theirs.number)
    assert_reveals_nothing_of(asked.result, theirs)
    missing = call(context, "lookup_order", {"order_id": "NW-99999"})
    assert asked.result.replace(theirs.number, "#") == missing.result.replace("NW-99999", "#")
    # A refund on their order is refused the same way, and nothing is recorded.
    refund = call(context, "request_refund", {"order_id": theirs.number, "reason": "give me money"})
    assert not refund.ok and refund.result == NOT_THEIRS.format(number=theirs.number)
    assert_reveals_nothing_of(refund.result, theirs)
    assert count(engine, RefundRequest) == 0


@pytest.mark.parametrize(
    "order_id",
    [
        "NW-10042'; DROP TABLE orders; --",
        "' OR '1'='1",
        'NW-10042" OR 1=1',
        "NW-1004%",
        "NW-10042; SELECT * FROM customers",
        "9" * 10_000,
        "NW-" + "1" * 10_000,
        "",
    ],
)
def test_order_ids_that_are_not_order_numbers_get_a_safe_answer(engine, order_id: str) -> None:
    context = new_context(engine)
    call(context, "lookup_order", {"order_id": "NW-10042", "email": MARIA})
    for tool, args in (
        ("lookup_order", {"order_id": order_id}),
        ("lookup_order", {"order_id": order_id, "email": MARIA}),
        ("request_refund", {"order_id": order_id, "reason": "broken"}),
    ):
        outcome = call(context, tool, args)
        assert not outcome.ok and outcome.result == NOT_AN_ORDER_NUMBER, (tool, outcome.result)
    assert count(engine, Order) == 40 and count(engine, RefundRequest) == 0


def test_the_model_cannot_supply_the_context(engine) -> None:
    context = new_context(engine)
    someone = other_order(engine)
    forged = {
        "order_id": someone.number,
        "context": {"session_id": "x", "verified_customer_id": someone.customer_id},
    }
    outcome = call(context, "lookup_order", forged)
    assert not outcome.ok and outcome.result == NEED_EMAIL.format(number=someone.number)
    assert "context" not in outcome.arguments
    assert_reveals_nothing_of(outcome.result, someone)


def test_tools_that_need_a_conversation_refuse_without_a_context() -> None:
    for name, args in (("lookup_order", {"order_id": "NW-10042"}), ("request_human", {"reason": "x"})):
        outcome = call(None, name, args)
        assert not outcome.ok and "cannot run outside a conversation" in outcome.result
    assert call(None, "calculator", {"expression": "1+1"}).result == "1+1 = 2.00"


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("lookup_order", {"__raw__": '{"order_id": "NW-1'}, "not valid JSON"),
        ("lookup_order", ["NW-10042"], "must be a JSON object"),
        ("lookup_order", "NW-10042", "must be a JSON object"),
        ("lookup_order", {"order_idx": "NW-10042"}, "order_id: Field required"),
        ("lookup_order", {"order_id": {"$ne": None}}, "order_id: Input should be a valid string"),
        ("open_ticket", {"subject": "x"}, "description: Field required"),
        ("calculator", {"expression": 5}, "expression: Input should be a valid string"),
        ("transfer_money", {"amount": 1000}, "there is no tool named 'transfer_money'"),
    ],
)
def test_malformed_tool_calls_are_observations(engine, name: str, args: object, expected: str) -> None:
    context = new_context(engine)
    outcome = call(context, name, args)
    assert not outcome.ok and expected in outcome.result
    assert "ToolContext" not in outcome.result and context.session_id not in outcome.result


def test_open_ticket_records_it_and_tells_the_number(engine) -> None:
    context = new_context(engine)
    outcome = call(
        context,
        "open_ticket",
        {"subject": "Blender arrived cracked", "description": "NW-10042: the jar is cracked."},
    )
    assert outcome.ok and "Your support ticket T-1001 is open" in outcome.result
    ticket = CommerceService(engine).ticket("T-1001")
    assert (ticket.session_id, ticket.subject, ticket.status) == (
        context.session_id,
        "Blender arrived cracked",
        "open",
    )
    assert ticket.customer_id is None
    call(context, "lookup_order", {"order_id": "NW-10042", "email": MARIA})
    second = call(context, "open_ticket", {"subject": "Kettle", "description": "Lid is loose."})
    assert "T-1002" in second.result
    assert CommerceService(engine).ticket("T-1002").customer_id == context.verified_customer_id
    empty = call(context, "open_ticket", {"subject": "   ", "description": "x"})
    assert not empty.ok and "No ticket was opened" in empty.result and count(engine, Ticket) == 2


def test_a_refund_is_a_pending_request_and_never_a_promise(engine) -> None:
    context = new_context(engine)
    unverified = call(context, "request_refund", {"order_id": "NW-10042", "reason": "cracked"})
    assert not unverified.ok and unverified.result == NEED_EMAIL.format(number="NW-10042")
    assert count(engine, RefundRequest) == 0
    outcome = call(
        context, "request_refund", {"order_id": "NW-10042", "reason": "arrived cracked", "email": MARIA}
    )
    assert outcome.ok and "R-1001" in outcome.result and "pending" in outcome.result
    assert "No refund has been issued or promised" in outcome.result
    for promise in ("approved", "will be refunded", "refund has been issued"):
        assert promise not in outcome.result.replace("No refund has been issued", "")
    again = call(context, "request_refund", {"order_id": "NW-10042", "reason": "still cracked"})
    assert again.ok and "Nothing new was recorded" in again.result and "R-1001" in again.result
    [refund] = CommerceService(engine).refund_requests()
    assert (refund.status, refund.order_number, refund.reason) == ("pending", "NW-10042", "arrived cracked")


def test_request_human_queues_the_conversation_once(engine) -> None:
    context = new_context(engine)
    handoff = context.handoff
    outcome = call(context, "request_human", {"reason": "Customer is upset about a late parcel"})
    assert outcome.ok and "a person from our team will reply here" in outcome.result
    assert handoff.state(context.session_id) == ConversationState.QUEUED
    [move] = handoff.transitions(context.session_id)
    assert (move.from_state, move.to_state, move.by) == ("bot", "queued", "customer")
    assert move.reason == "Customer is upset about a late parcel"
    again = call(context, "request_human", {"reason": "please"})
    assert again.ok and "already waiting for a person" in again.result
    handoff.take(context.session_id, by="alice")
    assert "already handling" in call(context, "request_human", {"reason": ""}).result
    assert len(handoff.transitions(context.session_id)) == 2


def test_request_human_in_a_closed_conversation_gets_a_clear_answer(engine) -> None:
    context = new_context(engine)
    context.handoff.transition(context.session_id, "queued", by="customer")
    context.handoff.transition(context.session_id, "closed", by="alice", reason="resolved")
    outcome = call(context, "request_human", {"reason": "one more thing"})
    assert not outcome.ok and "This conversation is closed" in outcome.result
    assert "start a new conversation" in outcome.result
    assert context.handoff.state(context.session_id) == ConversationState.CLOSED


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("3*19.99 - 10%", "= 53.97"),
        ("10**10**10", "Cannot calculate that: exponents are limited"),
        ("1/0", "Cannot calculate that: division by zero"),
        ("rm -rf /", "Cannot calculate that: the expression may not contain letters"),
        ("1" * 5000, "Cannot calculate that: the expression is too long"),
    ],
)
def test_the_calculator_through_the_registry(expression: str, expected: str) -> None:
    outcome = call(None, "calculator", {"expression": expression})
    assert expected in outcome.result
    assert outcome.ok == ("=" in expected)


def test_every_text_a_customer_may_read_is_written_to_the_customer(engine) -> None:
    """Tool results and the tools' own refusals may be quoted to the customer as they are
    (agents/checking.py): none of them speaks about the customer to the model."""
    context = new_context(engine)
    theirs = other_order(engine)
    outcomes = [
        call(context, "lookup_order", {"order_id": "NW-10042"}),
        call(context, "lookup_order", {"order_id": "bogus"}),
        call(context, "lookup_order", {"order_id": "NW-10042", "email": "not an email"}),
        call(context, "lookup_order", {"order_id": "NW-10042", "email": "someone@example.com"}),
        call(context, "request_refund", {"order_id": "NW-10042", "reason": "cracked"}),
        call(context, "lookup_order", {"order_id": "NW-10042", "email": MARIA}),
        call(context, "lookup_order", {"order_id": theirs.number}),
        call(context, "request_refund", {"order_id": "NW-10042", "reason": "cracked"}),
        call(context, "request_refund", {"order_id": "NW-10042", "reason": "cracked"}),
        call(context, "request_refund", {"order_id": "NW-10042", "reason": " "}),
        call(context, "open_ticket", {"subject": "Cracked jar", "description": "The jar is cracked."}),
        call(context, "open_ticket", {"subject": " ", "description": "x"}),
        call(context, "request_human", {"reason": "wants a person"}),
        call(context, "request_human", {"reason": "again"}),
        call(context, "calculator", {"expression": "3*19.99 - 10%"}),
        call(context, "calculator", {"expression": "1/0"}),
    ]
    context.handoff.transition(context.session_id, "closed", by="alice")
    outcomes.append(call(context, "request_human", {"reason": "one more thing"}))
    assert {o.ok for o in outcomes} == {True, False}
    for outcome in outcomes:
        assert outcome.for_customer, outcome
        text = outcome.result.lower()
        for to_the_model in (
            "the customer",
            "tell the",
            "ask the",
            "look it up again",
            "the assistant should",
        ):
            assert to_the_model not in text, (to_the_model, outcome.name, outcome.result)


def test_errors_about_a_malformed_call_are_for_the_model_only(engine) -> None:
    context = new_context(engine)
    for name, args in (("open_ticket", {"subject": "x"}), ("transfer_money", {}), ("lookup_order", [])):
        outcome = call(context, name, args)
        assert not outcome.ok and not outcome.for_customer and outcome.result.startswith("Error: ")
    assert not call(None, "lookup_order", {"order_id": "NW-10042"}).for_customer
