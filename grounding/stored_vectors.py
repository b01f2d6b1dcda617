"""The answer check's source-sentence vectors kept in the database, so that a sentence is embedded
once for every app process and restart rather than once per process (a replica that starts cold
would otherwise embed every article sentence it meets on the CPU, during customers' turns).
Ingestion stores the help center's sentences here as it indexes them (knowledge/sentence_index.py);
the check adds the sentences of other sources (tool results) as it meets them.

Keyed by the embedding model and the text; a row is never changed, only added. Failing to read or
write the table is logged and the check goes on with the vectors it embedded itself.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from grounding.vectors import unit_rows
from storage.models import SentenceVector

log = logging.getLogger(__name__)

# Keys per query: well under SQLite's and PostgreSQL's limits on bound parameters.
BATCH = 500


class StoredVectors:
    """Sentence vectors of one embedding model in the `sentence_vectors` table."""

    def __init__(self, engine: Engine, *, model: str) -> None:
        self.engine = engine
        self.model = model
        dialect = engine.dialect.name
        self._insert = postgresql_insert if dialect == "postgresql" else sqlite_insert

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model}\0{text}".encode()).hexdigest()

    def load(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of `texts` that have one, by text."""
        by_key = {self.key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(by_key)
        try:
            with self.engine.connect() as db:
                for i in range(0, len(keys), BATCH):
                    rows = db.execute(
                        select(SentenceVector.key, SentenceVector.vector).where(
                            SentenceVector.key.in_(keys[i : i + BATCH])
                        )
                    )
                    for key, blob in rows:
                        found[by_key[key]] = np.frombuffer(blob, dtype=np.float32).copy()
        except SQLAlchemyError as exc:
            log.warning("Answer check: stored sentence vectors not read (%s)", exc)
        return found

    def save(self, vectors: Mapping[str, Sequence[float] | np.ndarray]) -> None:
        """Keeps `vectors` (by text, scaled to unit length, as the check compares them); a sentence
        another process stored meanwhile is left as it is."""
        if not vectors:
            return
        matrix = unit_rows(np.asarray(list(vectors.values()), dtype=np.float32))
        rows = [
            {"key": self.key(text), "vector": v.tobytes()} for text, v in zip(vectors, matrix, strict=True)
        ]
        try:
            with self.engine.begin() as db:
                for i in range(0, len(rows), BATCH):
                    statement = self._insert(SentenceVector).values(rows[i : i + BATCH])
                    db.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
        except SQLAlchemyError as exc:
            log.warning("Answer check: sentence vectors not stored (%s)", exc)
