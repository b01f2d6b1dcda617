"""The knowledge-base command line (`python app.py ingest PATH...`, `python app.py kb list|delete|search`)
on the same data dir and stores the server uses.

An embedded Chroma store cannot be shared by two processes (each caches its own vector index), so
the write commands take the data dir's lock and refuse while a server holds it, pointing to the admin
API instead; read commands always work. With FRONTDESK_CHROMA_URL both processes share one store.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from settings import Settings
from storage.data_dir import DataDirBusy, check_writable, exclusive_lock

if TYPE_CHECKING:
    from knowledge import KnowledgeBase

API_HINTS = {
    "ingest": "upload through it instead: POST /api/v1/admin/documents (multipart 'file') or the admin "
    "console at /admin",
    "kb delete": "delete through it instead: DELETE /api/v1/admin/documents/{id} or the admin console at /admin",
}


class CommandRefused(Exception):
    """The command cannot run now; the message says why and what to do instead."""


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 50:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 50")
    return value


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `ingest` and `kb list|delete|search` on the app's sub-command parser."""
    ingest = sub.add_parser(
        "ingest",
        help="add or replace documents (files, or folders searched for supported files)",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    kb = sub.add_parser("kb", help="inspect the knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_list = kb_sub.add_parser("list", help="the documents, with their chunk counts")
    kb_list.add_argument("--json", action="store_true")
    kb_delete = kb_sub.add_parser("delete", help="remove a document and its chunks")
    kb_delete.add_argument("document", metavar="ID_OR_FILE", help="a document id or its file name")
    kb_search = kb_sub.add_parser("search", help="the chunks nearest to a query")
    kb_search.add_argument("query")
    kb_search.add_argument("--k", type=_count, default=3, help="how many chunks (1 to 50)")
    kb_search.add_argument("--json", action="store_true")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one parsed command; returns the exit status."""
    try:
        if args.command == "ingest":
            return ingest(settings, args.paths)
        if args.kb_command == "list":
            return list_documents(open_knowledge(settings), as_json=args.json)
        if args.kb_command == "delete":
            with write_access(settings, "kb delete"):
                return delete(open_knowledge(settings), args.document)
        return search(open_knowledge(settings), args.query, k=args.k, as_json=args.json)
    except CommandRefused as exc:
        print(f"app.py: {exc}", file=sys.stderr)
        return 1


def open_knowledge(settings: Settings) -> KnowledgeBase:
    """The knowledge base with a lazy embedder: only commands that embed load the model."""
    from knowledge import build_knowledge_base
    from knowledge.embeddings import LazyEmbedder, build_embedder
    from storage import make_engine, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    migrate(engine)
    return build_knowledge_base(settings, engine, LazyEmbedder(lambda: build_embedder(settings)))


@contextmanager
def write_access(settings: Settings, command: str) -> Iterator[None]:
    """Hold the data dir's lock while an embedded store is written; refuse if a server holds it."""
    with ExitStack() as stack:
        # A Chroma server (FRONTDESK_CHROMA_URL) is shared by every process: nothing to guard.
        if not settings.chroma_url:
            data_dir = check_writable(settings.data_dir)
            try:
                stack.enter_context(exclusive_lock(data_dir, role=f"app.py {command}"))
            except DataDirBusy as busy:
                if busy.holder.role == "server":
                    raise CommandRefused(
                        f"the Frontdesk server ({busy.holder}) is running on {data_dir} and owns its "
                        f"embedded knowledge base, which one process at a time can write; "
                        f"{API_HINTS[command]} (or stop the server first)."
                    ) from None
                raise CommandRefused(f"{busy}; try again when it has finished.") from None
        yield


def collect_files(args: list[str]) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """Files to ingest, files skipped (unsupported types in folders), and paths that are errors.

    A folder is searched recursively for supported types; hidden files and folders (.git, .DS_Store)
    are passed over. A file named on the command line is always tried, so a bad one is an error.
    """
    from knowledge.loaders import SUPPORTED_SUFFIXES

    files: list[Path] = []
    skipped: list[Path] = []
    errors: list[tuple[Path, str]] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if any(part.startswith(".") for part in found.relative_to(path).parts):
                    continue
                if not found.is_file():
                    continue
                if found.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(found)
                else:
                    skipped.append(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append((path, "no such file or folder"))
    return files, skipped, errors


def ingest(settings: Settings, args: list[str]) -> int:
    """Ingest files and folders with a progress bar; exit 1 only when a file that was tried failed."""
    from knowledge.loaders import SUPPORTED_SUFFIXES

    files, skipped, errors = collect_files(args)
    for path in skipped:
        print(f"skipped   {path} (not a supported type: {' '.join(SUPPORTED_SUFFIXES)})")
    for path, reason in errors:
        print(f"error     {path}: {reason}")
    counts: Counter[str] = Counter()
    if files:
        from tqdm import tqdm

        with write_access(settings, "ingest"):
            kb = open_knowledge(settings)
            with tqdm(total=len(files), desc="Ingesting", unit="doc") as bar:
                for path, outcome in zip(
                    files, kb.ingest_paths(files, progress=lambda *_: bar.update()), strict=True
                ):
                    if isinstance(outcome, Exception):
                        errors.append((path, str(outcome)))
                        tqdm.write(f"error     {path}: {outcome}")
                    else:
                        counts[outcome.status] += 1
                        tqdm.write(f"{outcome.status:9} {outcome.document} ({outcome.chunks} chunks)")
    elif not errors:
        print("nothing to ingest: no supported files were found")
    summary = [f"{counts[s]} {s}" for s in ("added", "updated", "unchanged") if counts[s]]
    if skipped:
        summary.append(f"{len(skipped)} skipped")
    summary.append(f"{len(errors)} failed")
    print(", ".join(summary))
    return 1 if errors else 0


def list_documents(kb: KnowledgeBase, *, as_json: bool) -> int:
    docs = kb.documents()
    if as_json:
        print(json.dumps(docs, indent=2))
    elif not docs:
        print(
            "The knowledge base is empty: add documents with `python app.py ingest PATH...` or the admin console."
        )
    else:
        for d in docs:
            print(f"{d['id']:40} {d['chunks']:4} chunks  {d['title']}")
    return 0


def resolve_document(docs: list[dict[str, Any]], name: str) -> str | None:
    """The id of the document `name` means: its id, its file name (with or without a folder)."""
    from knowledge.loaders import document_id

    if any(d["id"] == name for d in docs):
        return name
    base = unicodedata.normalize("NFC", PurePath(name).name)
    for d in docs:
        if d["filename"] == base:
            return str(d["id"])
    candidate = document_id(base) if base else ""
    return candidate if any(d["id"] == candidate for d in docs) else None


def delete(kb: KnowledgeBase, name: str) -> int:
    doc_id = resolve_document(kb.documents(), name)
    if doc_id is None or not kb.delete(doc_id):
        print(
            f"no document has the id or file name {name!r}; `python app.py kb list` shows them",
            file=sys.stderr,
        )
        return 1
    print(f"deleted {doc_id}")
    return 0


def search(kb: KnowledgeBase, query: str, *, k: int, as_json: bool) -> int:
    chunks = kb.search(query, k=k)
    if as_json:
        print(json.dumps([{**c.citation(), "section": c.section, "text": c.text} for c in chunks], indent=2))
    elif not chunks:
        print("no matches" if kb.has_documents() else "The knowledge base is empty.")
    else:
        for c in chunks:
            print(f"{c.score:.3f}  {c.chunk_id:40} {c.title} — {c.section}")
    return 0
