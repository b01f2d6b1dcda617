"""The bundled demo help center (knowledge/demo/), ingested into a new knowledge base on first start."""

from __future__ import annotations

import logging
from pathlib import Path

from knowledge.loaders import document_id
from knowledge.store import KnowledgeBase
from settings import Settings

DEMO_DIR = Path(__file__).resolve().parent / "demo"
log = logging.getLogger("frontdesk")


def seed_demo_data(settings: Settings, kb: KnowledgeBase) -> None:
    """Ingest the bundled demo help center until it is complete (FRONTDESK_DEMO_DATA=false skips).

    Resumable: a seeding interrupted half-way (a crash, a full disk) ingests the missing documents on
    the next start; those already there are content-hashed and come back "unchanged". The marker is
    written only once every demo document is in. A knowledge base that holds documents of its own is
    left as it is.
    """
    marker = settings.data_dir / ".demo_seeded"
    if not settings.demo_data or marker.exists():
        return
    paths = sorted(DEMO_DIR.glob("*.md"))
    demo_ids = {document_id(p.name) for p in paths}
    present = {d["id"] for d in kb.documents()}
    if present - demo_ids:
        log.info("The knowledge base has documents of its own; the demo help center is not added.")
    else:
        missing = [p for p in paths if document_id(p.name) not in present]
        if missing:
            from tqdm import tqdm

            with tqdm(total=len(missing), desc="Indexing demo help center", unit="doc") as bar:
                outcomes = kb.ingest_paths(missing, progress=lambda *_: bar.update())
            for outcome in outcomes:
                if isinstance(outcome, Exception):
                    # Not marked as done: the next start ingests what is still missing.
                    raise outcome
    marker.write_text("demo help center ingested once; delete this file to ingest it again\n")
