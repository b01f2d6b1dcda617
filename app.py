"""Frontdesk entry point: wires settings → storage → llm → knowledge → agent → web, and the CLI."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from settings import Settings

DEMO_DIR = Path(__file__).resolve().parent / "knowledge" / "demo"
log = logging.getLogger("frontdesk")


def open_knowledge(settings: Settings, engine, embedder=None):  # noqa: ANN001, ANN201
    from knowledge import build_knowledge_base

    return build_knowledge_base(settings, engine, embedder)


def seed_demo_data(settings: Settings, kb) -> None:  # noqa: ANN001
    """On the very first start, ingest the bundled demo help center (FRONTDESK_DEMO_DATA=false skips)."""
    marker = settings.data_dir / ".demo_seeded"
    if not settings.demo_data or marker.exists():
        return
    if not kb.has_documents():
        from tqdm import tqdm

        paths = sorted(DEMO_DIR.glob("*.md"))
        with tqdm(total=len(paths), desc="Indexing demo help center", unit="doc") as bar:
            kb.ingest_paths(paths, progress=lambda *_: bar.update())
    marker.write_text("demo help center ingested once; delete this file to ingest it again\n")


def build_services(settings: Settings, *, embedder=None):  # noqa: ANN001, ANN201
    """Everything the web app serves; `embedder` lets tests share one loaded embedding model."""
    from agents.turn import AgentConfig, SupportAgent
    from llm import build_chat_backend
    from memory import ConversationStore
    from prompts import PromptLibrary
    from storage import make_engine, migrate
    from tools import make_search_knowledge_base_tool
    from web.admin_auth import AdminAuth
    from web.services import Services

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    log.info("Applying database migrations…")
    migrate(engine)
    kb = open_knowledge(settings, engine, embedder)
    seed_demo_data(settings, kb)
    backend = build_chat_backend(settings)
    store = ConversationStore(engine)
    agent = SupportAgent(
        store=store,
        backend=backend,
        prompts=PromptLibrary(),
        config=AgentConfig(
            company=settings.company_name,
            assistant_name=settings.assistant_name,
            topics=list(settings.topics or []),
            context_tokens=settings.context_tokens,
            answer_tokens=settings.answer_tokens,
            max_tool_steps=settings.max_tool_steps,
            max_message_chars=settings.max_message_chars,
        ),
        retriever=kb,
        tools=[make_search_knowledge_base_tool(kb)],
    )
    admin_password = settings.admin_password.get_secret_value() if settings.admin_password else None
    return Services(
        settings=settings,
        store=store,
        agent=agent,
        admin=AdminAuth.from_settings(admin_password, settings.data_dir),
        model_description=backend.description,
        knowledge=kb,
    )


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from web.server import create_app

    app = create_app(build_services(settings))
    log.info("Frontdesk is ready on http://%s:%d (chat at /, admin at /admin)", host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")


def kb_command(settings: Settings, args: argparse.Namespace) -> int:
    from storage import make_engine, migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    kb = open_knowledge(settings, engine)
    if args.command == "ingest":
        from tqdm import tqdm

        paths = [
            p
            for arg in args.paths
            for p in (sorted(Path(arg).rglob("*")) if Path(arg).is_dir() else [Path(arg)])
            if p.is_file()
        ]
        failed = 0
        with tqdm(total=len(paths), desc="Ingesting", unit="doc") as bar:
            for path, outcome in zip(
                paths, kb.ingest_paths(paths, progress=lambda *_: bar.update()), strict=True
            ):
                if isinstance(outcome, Exception):
                    failed += 1
                    tqdm.write(f"error  {path}: {outcome}")
                else:
                    tqdm.write(f"{outcome.status:9} {outcome.document} ({outcome.chunks} chunks)")
        return 1 if failed else 0
    if args.kb_command == "list":
        docs = kb.documents()
        if args.json:
            print(json.dumps(docs, indent=2))
        else:
            for d in docs:
                print(f"{d['id']:40} {d['chunks']:4} chunks  {d['title']}")
        return 0
    if args.kb_command == "delete":
        if kb.delete(args.doc_id):
            print(f"deleted {args.doc_id}")
            return 0
        print(f"no document with id {args.doc_id!r}", file=sys.stderr)
        return 1
    chunks = kb.search(args.query, k=args.k)
    if args.json:
        print(json.dumps([{**c.citation(), "section": c.section, "text": c.text} for c in chunks], indent=2))
    else:
        for c in chunks:
            print(f"{c.score:.3f}  {c.chunk_id:40} {c.title} — {c.section}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="Frontdesk customer-service agent")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="start the web app (the default)")
    serve_parser.add_argument("--host", default=argparse.SUPPRESS)
    serve_parser.add_argument("--port", type=int, default=argparse.SUPPRESS)
    ingest = sub.add_parser("ingest", help="add documents (files or folders) to the knowledge base")
    ingest.add_argument("paths", nargs="+")
    kb = sub.add_parser("kb", help="inspect the knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_list = kb_sub.add_parser("list")
    kb_list.add_argument("--json", action="store_true")
    kb_delete = kb_sub.add_parser("delete")
    kb_delete.add_argument("doc_id")
    kb_search = kb_sub.add_parser("search")
    kb_search.add_argument("query")
    kb_search.add_argument("--k", type=int, default=3)
    kb_search.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    if args.command in ("ingest", "kb"):
        logging.getLogger().setLevel(logging.WARNING)
        return kb_command(settings, args)
    serve(settings, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
