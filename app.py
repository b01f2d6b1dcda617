"""Frontdesk entry point: wires settings → storage → llm → knowledge → agent → web, and dispatches
the command line (`serve`; `ingest` and `kb` live in cli.py)."""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import nullcontext

from settings import Settings

log = logging.getLogger("frontdesk")


def build_services(settings: Settings, *, embedder=None):  # noqa: ANN001, ANN201
    """Everything the web app serves; `embedder` lets tests share one loaded embedding model."""
    from functools import partial

    from agents.trial import PromptTrials, scratch_engine, trial_tool_context
    from agents.turn import AgentConfig, SupportAgent
    from commerce import CommerceService, seed_demo_store
    from handoff import HandoffService
    from llm import build_chat_backend
    from memory import ConversationStore
    from prompts import PromptStore
    from storage import make_engine, migrate
    from tools import ToolContext, build_tools
    from web.admin_auth import AdminAuth
    from web.services import Services

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    log.info("Applying database migrations…")
    migrate(engine)
    from grounding import AnswerChecker
    from grounding.stored_vectors import StoredVectors
    from knowledge import build_knowledge_base
    from knowledge.batching import EmbeddingBatcher
    from knowledge.embeddings import LocalEmbedder, build_embedder
    from knowledge.seeding import seed_demo_data

    embedder = embedder or build_embedder(settings)
    # Concurrent turns embed their queries and the answer check's texts together (one model call).
    batcher = EmbeddingBatcher(embedder)
    # Article sentences are embedded once, at ingestion, for every process and restart.
    sentence_vectors = StoredVectors(engine, model=settings.embedding_model)
    kb = build_knowledge_base(settings, engine, batcher, sentence_vectors=sentence_vectors)
    seed_demo_data(settings, kb)
    if settings.demo_data:
        seed_demo_store(engine)
    backend = build_chat_backend(settings)
    store = ConversationStore(engine)
    commerce, handoff = CommerceService(engine), HandoffService(engine)
    prompts = PromptStore(engine)
    # On the first start the prompt files become version 1; the company, assistant name and topics
    # then live with the system prompt's versions and are edited in the admin console.
    prompts.seed(
        branding={
            "company": settings.company_name,
            "assistant_name": settings.assistant_name,
            "topics": list(settings.topics or []),
        }
    )
    agent = SupportAgent(
        store=store,
        backend=backend,
        prompts=prompts,
        config=AgentConfig(
            company=settings.company_name,
            assistant_name=settings.assistant_name,
            topics=list(settings.topics or []),
            context_tokens=settings.context_tokens,
            answer_tokens=settings.answer_tokens,
            max_tool_steps=settings.max_tool_steps,
            max_message_chars=settings.max_message_chars,
            tool_routing=settings.tool_routing or ("both" if backend.auto_tool_calls else "rules"),
        ),
        retriever=kb,
        tools=build_tools(retriever=kb),
        handoff=handoff,
        tool_context=partial(ToolContext.for_session, commerce=commerce, handoff=handoff),
        answer_checker=AnswerChecker(
            batcher.embed_texts,
            mode=settings.answer_mode,
            stored=sentence_vectors,
            # A rare lower-case word no source has ("afterpay") is a name written small.
            common_words=embedder.whole_words() if isinstance(embedder, LocalEmbedder) else None,
            # The company's own name may appear in a reply without being in the sources.
            known_names=[n for n in (settings.company_name, settings.assistant_name) if n],
        ),
    )
    from integrations.wiring import build_integrations
    from llm.probe import BackendProbe, build_backend_monitor, effective_context

    def follow_backend(probe: BackendProbe) -> None:
        # The window follows the server's context length; a server that refuses "auto" tool
        # choice gets only the tools that rules name.
        agent.config.context_tokens = effective_context(settings, probe)
        if settings.tool_routing is None and probe.auto_tool_calls is not None:
            agent.config.tool_routing = (
                "both" if probe.auto_tool_calls and backend.auto_tool_calls else "rules"
            )

    monitor = build_backend_monitor(settings, follow_backend)
    admin_password = settings.admin_password.get_secret_value() if settings.admin_password else None
    return Services(
        settings=settings,
        store=store,
        agent=agent,
        admin=AdminAuth.from_settings(admin_password, settings.data_dir),
        model_description=backend.description,
        knowledge=kb,
        commerce=commerce,
        handoff=handoff,
        integrations=build_integrations(settings, engine, agent),
        prompts=prompts,
        prompt_trials=PromptTrials(
            agent,
            engine=partial(scratch_engine, demo_store=settings.demo_data),
            tool_context=trial_tool_context,
        ),
        backend=monitor,
    )


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from web.server import create_app

    app = create_app(build_services(settings))
    log.info("Frontdesk is ready on http://%s:%d (chat at /, admin at /admin)", host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")


def main(argv: list[str] | None = None) -> int:
    import cli
    from storage.data_dir import (
        DataDirBusy,
        DataDirError,
        check_writable,
        exclusive_lock,
        explain_storage_failure,
    )

    parser = argparse.ArgumentParser(prog="app.py", description="Frontdesk customer-service agent")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="start the web app (the default)")
    serve_parser.add_argument("--host", default=argparse.SUPPRESS)
    serve_parser.add_argument("--port", type=int, default=argparse.SUPPRESS)
    cli.add_commands(sub)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The HTTP clients log every request at INFO: one line per model call and per Chroma query.
    for client in ("httpx", "httpx2"):
        logging.getLogger(client).setLevel(logging.WARNING)
    settings = Settings()
    try:
        if args.command in ("ingest", "kb"):
            logging.getLogger().setLevel(logging.WARNING)
            return cli.run(settings, args)
        data_dir = check_writable(settings.data_dir)
        # An embedded Chroma store cannot be shared by two processes: while the server runs, it
        # holds the data dir's lock, and the CLI's write commands point to the admin API instead.
        with exclusive_lock(data_dir, role="server") if not settings.chroma_url else nullcontext():
            serve(settings, args.host, args.port)
    except DataDirBusy as exc:
        print(f"frontdesk: {exc}; stop it, or give this server its own FRONTDESK_DATA_DIR", file=sys.stderr)
        return 1
    except DataDirError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        reason = explain_storage_failure(exc, settings.data_dir)
        if reason is None:
            raise
        print(f"frontdesk: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
