"""The database work of one turn (SQLite and PostgreSQL): a few short transactions, the session given
back in the same commit as the reply. Every transaction is a connection checkout, a ping and a
commit; on PostgreSQL each statement is a round trip to a server, and many turns share the pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from app import build_services
from storage.models import ChatSession
from tests.integration.conftest import ADMIN
from tests.utils.standin import running_standin, standin_settings

# The turn's own transactions, on a question the help center answers: the session taken, the session
# read (its messages and state together), the live prompt versions, the stored sentence vectors of
# the answer check, and the reply stored with the session given back.
TURN_TRANSACTIONS = 5


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # --echo: the answer quotes the excerpts, as a model that answers from its sources does.
    with running_standin(tmp_path_factory.mktemp("standin"), "--echo", "--rate", "2000") as url:
        yield url


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_turn_takes_five_transactions_and_frees_its_session_with_the_reply(
    backend: str, embedder, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    settings = standin_settings(
        tmp_path / "data",
        backend,
        admin_password=ADMIN[1],
        answer_mode="checked",
        answer_tokens=48,
        **({"database_url": request.getfixturevalue("postgres_url")} if database == "postgresql" else {}),
    )
    services = build_services(settings, embedder=embedder)
    agent, engine = services.agent, services.store.engine
    # What the engine does during a turn, in order: BEGIN, each statement's verb, COMMIT.
    log: list[str] = []
    event.listen(engine, "begin", lambda conn: log.append("BEGIN"))
    event.listen(engine, "commit", lambda conn: log.append("COMMIT"))
    event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: log.append(statement.split()[0].upper()),
    )

    def ask(text: str, session_id: str | None) -> tuple[str, list[str]]:
        stored = agent.accept(text, session_id=session_id)
        log.clear()
        events = list(agent.respond(stored.session_id, stored.id))
        assert events[-1].kind == "done" and events[-1].result is not None
        assert events[-1].result.citations, "the help center answers this question"
        return stored.session_id, list(log)

    session, _ = ask("How long does standard shipping take?", None)
    # The second turn of the session, as a customer's follow-up: history, state and prompts are read.
    session, turn = ask("Do you ship to Canada?", session)

    assert turn.count("BEGIN") <= TURN_TRANSACTIONS, " ".join(turn)
    history = services.store.messages(session)
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert all(m.status == "answered" for m in history if m.role == "user")
    with engine.connect() as conn:
        assert conn.scalar(select(ChatSession.turn_owner).where(ChatSession.id == session)) is None
    # The reply's transaction (the last INSERT) also gives the session back: none follows it.
    reply_stored = len(turn) - 1 - turn[::-1].index("INSERT")
    assert "BEGIN" not in turn[reply_stored:], " ".join(turn)
    engine.dispose()
