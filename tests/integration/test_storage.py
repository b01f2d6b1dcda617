"""The conversation store and migrations on real SQLite and real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from memory import ConversationStore, UnknownSessionError
from storage import make_engine, migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, data_dir: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'frontdesk.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_migrations_create_the_schema_and_are_idempotent(engine) -> None:
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"chat_sessions", "messages", "kb_documents", "alembic_version"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from storage.db import MIGRATIONS_DIR

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_history_written_before_0003_is_threaded_by_the_migration(
    request: pytest.FixtureRequest, data_dir: Path, backend: str
) -> None:
    """Rows from before replies named their message: users count as answered, replies follow them."""
    from alembic import command
    from alembic.config import Config

    from storage.db import MIGRATIONS_DIR

    url = (
        f"sqlite:///{data_dir / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    )
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into chat_sessions (id, title, created_at, updated_at) "
                "values ('s', '', current_timestamp, current_timestamp)"
            )
        )
        for role, content in [
            ("user", "hi"),
            ("assistant", "hello"),
            ("user", "bye"),
            ("assistant", "see you"),
        ]:
            conn.execute(
                text(
                    "insert into messages (session_id, role, content, token_count, created_at) "
                    "values ('s', :role, :content, 1, current_timestamp)"
                ),
                {"role": role, "content": content},
            )
    migrate(engine)
    history = ConversationStore(engine).messages("s")
    assert [(m.content, m.status, m.reply_to) for m in history] == [
        ("hi", "answered", None),
        ("hello", None, history[0].id),
        ("bye", "answered", None),
        ("see you", None, history[2].id),
    ]
    engine.dispose()


def test_history_round_trips_with_tool_calls_citations_and_trace(engine) -> None:
    store = ConversationStore(engine)
    session = store.create_session(client_id="browser-1")
    store.add_message(session_id=session, role="user", content="Where is my order?", token_count=6)
    call = {"name": "lookup_order", "args": {"order_id": "A1"}, "id": "c1"}
    store.add_message(session_id=session, role="assistant", content="", tool_calls=[call])
    store.add_message(session_id=session, role="tool", content="shipped", tool_call_id="c1")
    store.add_message(
        session_id=session,
        role="assistant",
        content="It shipped. ✓ Ünïcode",
        citations=[{"document": "d", "title": "T", "chunk_id": "d:0", "score": 0.5}],
        trace={"steps": [{"model_ms": 1.5}]},
    )
    history = ConversationStore(engine).messages(session)
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"]
    assert history[0].token_count == 6
    assert history[1].tool_calls == [call]
    assert history[2].tool_call_id == "c1"
    assert history[3].content == "It shipped. ✓ Ünïcode"
    assert history[3].citations[0]["chunk_id"] == "d:0"
    assert history[3].trace == {"steps": [{"model_ms": 1.5}]}
    assert all(m.created_at.tzinfo is not None for m in history)
    assert history == sorted(history, key=lambda m: m.id)


def test_sessions_are_listed_per_browser_newest_first(engine) -> None:
    store = ConversationStore(engine)
    first = store.create_session(client_id="me")
    second = store.create_session(client_id="me")
    other = store.create_session(client_id="someone-else")
    store.add_message(session_id=first, role="user", content="first question")
    store.add_message(session_id=second, role="user", content="second question")
    store.add_message(session_id=other, role="user", content="not mine")
    store.create_session(client_id="me")  # empty sessions are not listed

    listed = store.sessions_for_client("me")
    assert [s.id for s in listed] == [second, first]
    assert listed[0].title == "second question"


def test_session_ids_are_random_and_unknown_ones_are_refused(engine) -> None:
    store = ConversationStore(engine)
    ids = {store.create_session() for _ in range(20)}
    assert len(ids) == 20 and all(len(i) >= 32 for i in ids)
    with pytest.raises(UnknownSessionError):
        store.messages("no-such-session")
    with pytest.raises(UnknownSessionError):
        store.add_message(session_id="no-such-session", role="user", content="hi")


def test_sqlite_runs_in_wal_mode(data_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_a_new_session_and_its_first_message_are_stored_together(engine) -> None:
    store = ConversationStore(engine)
    first = store.start_session(content="Where is my parcel?", token_count=5, client_id="browser-1")
    [stored] = store.messages(first.session_id)
    assert (stored.role, stored.content, stored.status) == ("user", "Where is my parcel?", "pending")
    [summary] = store.sessions_for_client("browser-1")
    assert (summary.id, summary.title, summary.message_count) == (first.session_id, "Where is my parcel?", 1)
    # A message that cannot be stored leaves no session behind.
    with pytest.raises((AttributeError, TypeError)):
        store.start_session(content=None, client_id="browser-2")  # type: ignore[arg-type]
    assert store.sessions_for_client("browser-2") == []
