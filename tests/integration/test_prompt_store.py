"""Prompt versions on real SQLite and PostgreSQL: migration 0005 up and down, at most one live
version per prompt even when two publishers race, concurrent drafts on one base, and processes
starting at once seeding and refreshing each prompt once (PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from prompts import PromptLibrary, PromptStore, VersionConflictError
from storage import make_engine, migrate
from storage.db import MIGRATIONS_DIR


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, data_dir: Path):
    url = (
        f"sqlite:///{data_dir / 'prompts.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_the_migration_goes_down_and_up_again(engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert "prompt_versions" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "prompt_versions" in inspect(engine).get_table_names()


def test_the_database_refuses_a_second_live_version(engine) -> None:
    PromptStore(engine).seed(branding={})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "insert into prompt_versions (name, version, template, settings, note, author, created_at, status)"
                " values ('handoff', 2, 'x', '{}', '', 'a', current_timestamp, 'live')"
            )
        )


def test_racing_drafts_and_publishes_leave_one_winner_and_one_live_version(engine) -> None:
    prompts = PromptStore(engine)
    prompts.seed(branding={})

    def draft(i: int) -> int | str:
        try:
            return prompts.create(
                "handoff", template=f"Reply {i}.", note="", author=f"a{i}", base_version=1
            ).version
        except VersionConflictError as exc:
            return f"conflict with v{exc.newest.version}"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(draft, range(4)))
    assert sorted(map(str, outcomes)) == ["2", *["conflict with v2"] * 3]

    prompts.create("handoff", template="Reply x.", note="", author="b", base_version=2)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda v: prompts.publish("handoff", v, by="p"), [2, 3, 2, 3]))
    assert [v.status for v in prompts.versions("handoff")].count("live") == 1


def test_processes_starting_at_once_seed_and_refresh_each_prompt_once(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    migrate(engine)
    names = PromptLibrary().names()

    def start_all() -> list[str]:
        with ThreadPoolExecutor(4) as pool:
            seeded = list(pool.map(lambda _: PromptStore(engine).seed(branding={}), range(4)))
        return sorted(name for names in seeded for name in names)

    try:
        assert start_all() == sorted(names)  # each prompt seeded by one of them
        prompts = PromptStore(engine)
        for name in names:
            assert [(v.version, v.status) for v in prompts.versions(name)] == [(1, "live")]

        # An older release's default, never edited: the next starts bring it up to date, once, and
        # only the one that did it says so.
        prompts.create("handoff", template="Old handoff.", note="", author="setup", base_version=1)
        prompts.publish("handoff", 2, by="setup")
        assert start_all() == ["handoff"]
        refreshed = prompts.versions("handoff")
        assert [(v.version, v.status) for v in refreshed] == [(3, "live"), (2, "retired"), (1, "retired")]
        assert refreshed[0].template == PromptLibrary().source("handoff")
        assert (refreshed[0].author, refreshed[0].published_by) == ("setup", "setup")
        assert refreshed[0].published_at is not None
    finally:
        engine.dispose()
