"""The store and the handoff state machine on real SQLite and real PostgreSQL: verification and
authorization, tickets and refund requests, the demo seed, and concurrent takes and decisions."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, inspect, select, text

from commerce import (
    ORDER_STATUSES,
    CommerceService,
    OrderNotFoundError,
    RefundDecisionError,
    UnknownRecordError,
    VerificationFailedError,
    seed_demo_store,
)
from handoff import AlreadyTakenError, ConversationState, HandoffService, InvalidTransitionError
from handoff.service import INBOX_STATES
from memory import ConversationStore, UnknownSessionError
from review import ConversationBrowser
from storage import Customer, Order, make_engine, migrate
from storage.db import MIGRATIONS_DIR
from tests.integration.test_storage import head_revision

MARIA = "maria.lopez@example.com"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, data_dir: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'frontdesk.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    seed_demo_store(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, data_dir: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'frontdesk.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def alembic(engine, action: Callable[..., None], revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def race(workers: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in `workers` threads released together; each result or exception, in order."""
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def other_customers_order(engine, email: str = MARIA) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(Order.number).join(Customer).where(Customer.email != email).order_by(Order.number).limit(1)
        ).scalar_one()


def test_migration_0004_and_the_demo_store(engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {
        "customers",
        "orders",
        "order_items",
        "tickets",
        "refund_requests",
        "handoff_transitions",
    } <= tables
    with engine.connect() as conn:
        # Later revisions build on 0004: the database is at the newest one.
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head_revision()
        assert conn.execute(select(func.count()).select_from(Customer)).scalar() == 20
        assert conn.execute(select(func.count()).select_from(Order)).scalar() == 40
        statuses = Counter(conn.execute(select(Order.status)).scalars())
        order = conn.execute(select(Order).where(Order.number == "NW-10042")).one()
        owner = conn.execute(select(Customer.email).where(Customer.id == order.customer_id)).scalar()
    assert set(statuses) == set(ORDER_STATUSES)
    assert (owner, order.status, order.carrier) == (MARIA, "shipped", "UPS")
    assert order.tracking_number and order.shipped_at and order.estimated_delivery


def test_0004_up_and_down_keeps_every_message(empty_engine) -> None:
    # SQLite would cascade a copied-and-dropped chat_sessions table into `messages`: 0004 must
    # only ever add and drop columns in place.
    alembic(empty_engine, command.upgrade, "0003")
    session = "s" * 32
    with empty_engine.begin() as conn:  # rows as 0003 knew them (the models are already at 0004)
        conn.execute(
            text(
                "insert into chat_sessions (id, title, created_at, updated_at) "
                "values (:id, '', current_timestamp, current_timestamp)"
            ),
            {"id": session},
        )
        conn.execute(
            text(
                "insert into messages (session_id, role, content, created_at, token_count) "
                "values (:id, 'user', 'kept', current_timestamp, 0)"
            ),
            {"id": session},
        )
    migrate(empty_engine)
    assert HandoffService(empty_engine).state(session) == ConversationState.BOT
    alembic(empty_engine, command.downgrade, "0003")
    assert "customers" not in inspect(empty_engine).get_table_names()
    with empty_engine.connect() as conn:
        assert conn.execute(text("select content from messages")).scalars().all() == ["kept"]
    # 0003's columns leave in place too (no batch copy of chat_sessions cascading into messages).
    alembic(empty_engine, command.downgrade, "0002")
    with empty_engine.connect() as conn:
        assert conn.execute(text("select content from messages")).scalars().all() == ["kept"]
    migrate(empty_engine)
    assert [m.content for m in ConversationStore(empty_engine).messages(session)] == ["kept"]


def test_seeding_is_idempotent_also_when_two_processes_seed_at_once(engine) -> None:
    assert seed_demo_store(engine).orders_added == 0
    with engine.begin() as conn:
        conn.execute(text("delete from order_items"))
        conn.execute(text("delete from orders where number <> 'NW-10042'"))
    reports = race(2, lambda _: seed_demo_store(engine))
    assert not [r for r in reports if isinstance(r, Exception)]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar() == 40
        assert conn.execute(select(func.count()).select_from(Customer)).scalar() == 20


def test_verification_is_remembered_by_the_session_in_the_database(engine) -> None:
    session = ConversationStore(engine).create_session()
    commerce = CommerceService(engine)
    assert commerce.verified_customer(session_id=session) is None
    customer = commerce.verify_customer(
        session_id=session, order_number="nw10042", email=" Maria.Lopez@Example.com "
    )
    assert customer.email == MARIA
    assert CommerceService(engine).verified_customer(session_id=session) == customer
    other = ConversationStore(engine).create_session()
    assert commerce.verified_customer(session_id=other) is None
    with pytest.raises(UnknownSessionError):
        commerce.verify_customer(session_id="no-such-session", order_number="NW-10042", email=MARIA)


BAD_CREDENTIALS = [
    ("NW-10042", "someone.else@example.com"),  # the order exists, the email is not its own
    ("NW-99999", MARIA),  # no such order
    ("NW-10042' OR '1'='1", MARIA),
    ("NW-10042", "' OR 1=1 --"),
    ("9" * 10_000, MARIA),
    ("NW-10042", "x" * 10_000 + "@example.com"),
]


def test_a_failed_verification_says_the_same_whatever_failed(engine) -> None:
    commerce = CommerceService(engine)
    for order_number, email in BAD_CREDENTIALS:
        session = ConversationStore(engine).create_session()
        with pytest.raises(VerificationFailedError) as raised:
            commerce.verify_customer(session_id=session, order_number=order_number, email=email)
        assert str(raised.value) == "the order number and the email do not match our records"
        assert commerce.verified_customer(session_id=session) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar() == 40


def test_orders_are_only_read_together_with_their_customer(engine) -> None:
    commerce = CommerceService(engine)
    session = ConversationStore(engine).create_session()
    maria = commerce.verify_customer(session_id=session, order_number="NW-10042", email=MARIA)
    order = commerce.order_for_customer(customer_id=maria.id, order_number="NW-10042")
    assert order is not None and order.tracking_number and order.items
    assert order.total_cents == order.subtotal_cents + order.shipping_cents + order.tax_cents
    assert (
        commerce.order_for_customer(customer_id=maria.id, order_number=other_customers_order(engine)) is None
    )
    assert commerce.order_for_customer(customer_id=maria.id, order_number="NW-99999") is None
    assert commerce.order_for_customer(customer_id=maria.id, order_number="'; drop table orders; --") is None
    mine = commerce.orders_for_customer(customer_id=maria.id)
    assert "NW-10042" in [o.number for o in mine] and {o.customer_id for o in mine} == {maria.id}


def test_tickets_get_numbers_the_customer_can_be_told(engine) -> None:
    session = ConversationStore(engine).create_session()
    commerce = CommerceService(engine)
    first = commerce.open_ticket(
        session_id=session, subject="Blender arrived cracked", description="The jar is cracked."
    )
    second = commerce.open_ticket(session_id=session, subject="  Late  \n parcel ", description="x" * 9000)
    assert (first.number, second.number) == ("T-1001", "T-1002")
    assert second.subject == "Late parcel" and len(second.description) == 4000
    assert commerce.ticket("T-1001") == first and commerce.ticket("t1002") == second
    assert [t.number for t in commerce.tickets(session_id=session)] == ["T-1002", "T-1001"]
    with pytest.raises(UnknownRecordError):
        commerce.ticket("T-9999")
    with pytest.raises(ValueError, match="subject must not be empty"):
        commerce.open_ticket(session_id=session, subject="  ", description="d")


def test_refund_requests_wait_for_exactly_one_human_decision(engine) -> None:
    session = ConversationStore(engine).create_session()
    commerce = CommerceService(engine)
    maria = commerce.verify_customer(session_id=session, order_number="NW-10042", email=MARIA)
    refund, created = commerce.request_refund(
        session_id=session, customer_id=maria.id, order_number="NW-10042", reason="arrived cracked"
    )
    assert created and refund.status == "pending" and refund.number == "R-1001"
    again, created = commerce.request_refund(
        session_id=session, customer_id=maria.id, order_number="NW-10042", reason="still cracked"
    )
    assert not created and again.id == refund.id
    with pytest.raises(OrderNotFoundError):
        commerce.request_refund(
            session_id=session, customer_id=maria.id, order_number=other_customers_order(engine), reason="x"
        )
    assert [r.number for r in commerce.refund_requests(status="pending")] == ["R-1001"]

    decisions = race(6, lambda i: commerce.decide_refund(number="R-1001", approve=i % 2 == 0, by=f"admin{i}"))
    won = [d for d in decisions if not isinstance(d, Exception)]
    assert len(won) == 1, decisions
    assert all(isinstance(d, RefundDecisionError) for d in decisions if d is not won[0])
    stored = commerce.refund_requests()[0]
    assert stored.status == won[0].status and stored.decided_by == won[0].decided_by
    with pytest.raises(UnknownRecordError):
        commerce.decide_refund(number="R-4242", approve=True, by="admin")


def test_handoff_moves_are_checked_and_stored(engine) -> None:
    store = ConversationStore(engine)
    session = store.create_session()
    store.add_message(session_id=session, role="user", content="I want to talk to a person")
    handoff = HandoffService(engine)
    assert handoff.state(session) == ConversationState.BOT
    handoff.transition(session, "queued", by="customer", reason="asked for a person")
    with pytest.raises(InvalidTransitionError) as raised:
        handoff.transition(session, ConversationState.QUEUED, by="customer")
    assert (raised.value.current, raised.value.wanted) == ("queued", "queued")
    handoff.take(session, by="alice")
    assert handoff.status(session).assignee == "alice"
    handoff.transition(session, "bot", by="alice", reason="answered, back to the assistant")
    handoff.transition(session, "queued", by="customer", reason="again")
    handoff.transition(session, "closed", by="bob", reason="spam")
    with pytest.raises(InvalidTransitionError):
        handoff.transition(session, "bot", by="bob")
    moves = handoff.transitions(session)
    assert [(m.from_state, m.to_state, m.by) for m in moves] == [
        ("bot", "queued", "customer"),
        ("queued", "human", "alice"),
        ("human", "bot", "alice"),
        ("bot", "queued", "customer"),
        ("queued", "closed", "bob"),
    ]
    assert moves[0].reason == "asked for a person" and all(m.at.tzinfo for m in moves)
    assert moves == sorted(moves, key=lambda m: m.at)
    with pytest.raises(UnknownSessionError):
        handoff.transition("no-such-session", "queued", by="customer")
    with pytest.raises(ValueError):
        handoff.transition(session, "open", by="x")


def test_a_customer_message_to_a_closed_conversation_opens_a_new_one(engine) -> None:
    store = ConversationStore(engine)
    first = store.start_session(content="Where is my parcel?", client_id="browser-7")
    handoff = HandoffService(engine)
    handoff.transition(first.session_id, "queued", by="customer")
    again = store.add_customer_message(session_id=first.session_id, content="Still waiting")
    assert again.session_id == first.session_id  # queued is not closed: the person reads it there
    handoff.transition(first.session_id, "closed", by="ana", reason="resolved")

    reopened = store.add_customer_message(session_id=first.session_id, content="Hello again")
    assert reopened.session_id != first.session_id and reopened.status == "pending"
    assert [m.content for m in store.messages(first.session_id)] == ["Where is my parcel?", "Still waiting"]
    assert [m.content for m in store.messages(reopened.session_id)] == ["Hello again"]
    assert handoff.state(reopened.session_id) == ConversationState.BOT
    assert [s.id for s in store.sessions_for_client("browser-7")] == [reopened.session_id, first.session_id]


def test_two_admins_taking_one_conversation_exactly_one_wins(engine) -> None:
    session = ConversationStore(engine).create_session()
    handoff = HandoffService(engine)
    handoff.transition(session, "queued", by="customer", reason="needs a person")
    results = race(8, lambda i: handoff.take(session, by=f"admin{i}"))
    won = [r for r in results if not isinstance(r, Exception)]
    assert len(won) == 1, results
    lost = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, AlreadyTakenError) for r in lost) and len(lost) == 7
    assert all(won[0].by in str(r) for r in lost)
    status = handoff.status(session)
    assert status.state == ConversationState.HUMAN and status.assignee == won[0].by
    assert [m.to_state for m in handoff.transitions(session)] == ["queued", "human"]


def test_a_take_racing_a_release_to_the_bot_leaves_one_consistent_outcome(engine) -> None:
    session = ConversationStore(engine).create_session()
    handoff = HandoffService(engine)
    handoff.transition(session, "queued", by="customer")
    results = race(
        6,
        lambda i: (
            handoff.take(session, by=f"admin{i}") if i % 2 else handoff.transition(session, "bot", by=f"a{i}")
        ),
    )
    # Whichever move came first, the others found a state that no longer allowed theirs.
    assert sum(not isinstance(r, Exception) for r in results) >= 1
    moves = handoff.transitions(session)
    assert moves[1].from_state == "queued" and all(a.to_state == b.from_state for a, b in pairwise(moves))
    assert handoff.state(session) == moves[-1].to_state


def test_the_inbox_lists_queued_first_oldest_first_with_a_summary(engine) -> None:
    store = ConversationStore(engine)
    handoff, browser = HandoffService(engine), ConversationBrowser(engine)
    sessions = [store.create_session() for _ in range(4)]
    for i, s in enumerate(sessions):
        store.add_message(session_id=s, role="user", content=f"question {i}\n with   spaces")
    handoff.transition(sessions[2], "queued", by="customer", reason="refund question")
    handoff.transition(sessions[0], "queued", by="customer")
    handoff.transition(sessions[1], "queued", by="customer", reason="angry")
    handoff.take(sessions[1], by="alice")

    def inbox(states: list[str] | None = None) -> list:
        chosen = states or [str(s) for s in INBOX_STATES]
        return browser.search(states=chosen, order="inbox").conversations

    inbox_rows = inbox()
    assert [(e.session_id, e.state) for e in inbox_rows] == [
        (sessions[2], "queued"),
        (sessions[0], "queued"),
        (sessions[1], "human"),
    ]
    assert inbox_rows[0].summary == "refund question"
    assert inbox_rows[1].summary == "question 0 with spaces" and inbox_rows[2].assignee == "alice"
    assert [e.session_id for e in inbox(["human"])] == [sessions[1]]
    assert sessions[3] in [e.session_id for e in inbox(["bot"])]


def test_refund_requests_arriving_at_once_make_one_pending_request(engine) -> None:
    session = ConversationStore(engine).create_session()
    commerce = CommerceService(engine)
    maria = commerce.verify_customer(session_id=session, order_number="NW-10042", email=MARIA)
    results = race(
        4,
        lambda i: commerce.request_refund(
            session_id=session, customer_id=maria.id, order_number="NW-10042", reason=f"cracked {i}"
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(created for _, created in results) == 1
    assert len({refund.id for refund, _ in results}) == 1
    assert len(commerce.refund_requests()) == 1
