from __future__ import annotations

from pathlib import Path

import pytest

from grounding import AnswerChecker
from memory import ConversationStore
from storage import make_engine, migrate


@pytest.fixture
def store(data_dir: Path) -> ConversationStore:
    engine = make_engine(f"sqlite:///{data_dir / 'unit.db'}")
    migrate(engine)
    return ConversationStore(engine)


@pytest.fixture(scope="module")
def checker(embedder) -> AnswerChecker:
    """The answer check with the real embedding model, as the app builds it for the demo company."""
    return AnswerChecker(
        embedder.embed_documents, known_names=["Northwind Goods"], common_words=embedder.whole_words()
    )
