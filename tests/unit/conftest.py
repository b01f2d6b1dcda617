from __future__ import annotations

from pathlib import Path

import pytest

from memory import ConversationStore
from storage import make_engine, migrate


@pytest.fixture
def store(data_dir: Path) -> ConversationStore:
    engine = make_engine(f"sqlite:///{data_dir / 'unit.db'}")
    migrate(engine)
    return ConversationStore(engine)
