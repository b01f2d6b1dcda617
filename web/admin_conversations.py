"""The admin console's Conversations tab: search and page through every conversation, read its
transcript with the customers' ratings, open the turn inspector of any reply, see ratings per prompt
version, and download the fine-tuning export. A thin adapter over review/ (the same data as the
admin REST routes in web/api_handoff.py and web/api_review.py)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr

from handoff.notices import NOTICE_ROLE
from memory.store import UnknownSessionError
from review import (
    ExportFilters,
    UnknownMessageError,
    export_lines,
    inspect_reply,
)
from web.services import Services

PAGE_SIZE = 20
# "customer messages": what the customer wrote (the stored rows also hold the agent's tool steps).
LIST_COLUMNS = ["session", "state", "started", "last message", "customer messages", "👍", "👎", "summary"]
RATING_COLUMNS = ["prompt version", "👍", "👎", "share 👍"]
ROLE_NAMES = {
    "user": "Customer",
    "assistant": "Assistant",
    "human_agent": "Support agent",
    "tool": "Tool",
    NOTICE_ROLE: "Notice",
}
THUMBS = {"up": "👍", "down": "👎"}


def _when(value: str) -> str:
    return datetime.fromisoformat(value).strftime("%b %d %H:%M")


def transcript_markdown(messages: list[dict[str, Any]]) -> str:
    """The transcript as Markdown; each reply is marked with its id (for the inspector) and rating."""
    lines = []
    for m in messages:
        if m["role"] == "tool":
            lines.append(f"> *tool result:* {m['content'][:300]}")
            continue
        if m["tool_calls"]:
            calls = "; ".join(
                f"`{c['name']}({json.dumps(c['args'], ensure_ascii=False)})`" for c in m["tool_calls"]
            )
            lines.append(f"*Assistant called* {calls}")
            continue
        mark = f" `#{m['id']}`" if m["inspectable"] else ""
        rating = m.get("feedback")
        if rating:
            mark += f" {THUMBS[rating['rating']]}" + (
                f" *“{rating['comment']}”*" if rating["comment"] else ""
            )
        status = " *(not answered)*" if m["role"] == "user" and m["status"] == "failed" else ""
        lines.append(f"**{ROLE_NAMES.get(m['role'], m['role'])}**{mark}: {m['content']}{status}")
    return "\n\n".join(lines) or "*No messages yet.*"


def _rows(rows: list[dict[str, Any]], *, dropped: bool) -> str:
    if not rows:
        return "*none*"
    marker = "~~" if dropped else ""
    return "\n".join(
        f"- `#{r['id']}` {ROLE_NAMES.get(r['role'], r['role'])} ({r['tokens']} tokens): "
        f"{marker}{' '.join(r['content'].split())[:200]}{marker}"
        for r in rows
    )


def token_counts(tokens_in: int | None, tokens_out: int | None) -> str:
    """ "12 in / 3 out"; a count the backend did not report says so instead of showing None."""
    if tokens_in is None and tokens_out is None:
        return "tokens not reported"
    shown = ["not reported" if n is None else str(n) for n in (tokens_in, tokens_out)]
    return f"{shown[0]} in / {shown[1]} out"


# Why the answer check kept or dropped a sentence of the model's reply, in the admin's words.
CHECK_REASONS = {
    "supported": "a source sentence says the same",
    "small_talk": "small talk",
    "unchecked": "not checked (generative mode)",
    "low_similarity": "no source sentence says this",
    "number": "a number, price, duration or time the sources do not have",
    "name": "a name the sources do not have",
    "negation": "contradicts the source sentence",
    "new_words": "adds what no source says (its words the sources do not have)",
    "unlimited": 'says "at any time" or "always" where the source sets a limit',
    "clause": "one of the statements it joins is close to no source sentence",
    "off_question": "true, but does not answer the question",
    "quote": "a quotation made up by the model",
    "hedge": "a hedge",
    "yes_no": "a bare yes or no",
    "about_article": "says what an article is about, not what it says",
    "repeat": "repeats an earlier sentence",
    "small_talk_limit": "one pleasantry too many",
    "no_sources": "nothing to check it against",
}
# Why the app stopped a generation (llm.streaming.stream_step), in the admin's words.
STOPPED = {
    "repetition": "stopped: it repeated itself",
    "unsupported": "stopped: its first sentences all failed the answer check",
}
FALLBACKS = {
    "none": "the model's kept sentences",
    "extractive": "a quote of the sources, in place of the model's reply",
    "no_answer": 'the "I don\'t know" reply: no source sentence answers the question',
}


def answer_check_markdown(check: dict[str, Any]) -> str:
    """The answer check of a turn: each sentence of the model's reply, kept or dropped and why (with
    the closest source sentence), what the customer got, and why a quote was added or not."""
    sentences = check.get("sentences") or []
    quote = check.get("quote") or {}
    got = FALLBACKS.get(check.get("fallback", ""), check.get("fallback", ""))
    if check.get("fallback") == "none" and quote.get("appended") and quote.get("sentences"):
        got += ", then a quote of the sources"
    head = [
        f"#### Answer check (`{check.get('mode', 'checked')}`, {check.get('ms', 0)} ms): "
        f"{check.get('kept', 0)} kept, {check.get('dropped', 0)} dropped",
        f"**The customer got:** {got}",
    ]
    if check.get("error"):
        head.append(f"**The check failed:** {check['error']}")
    items = []
    for s in sentences:
        why = CHECK_REASONS.get(s.get("reason", ""), s.get("reason", ""))
        if s.get("detail"):
            why += f": {s['detail']}"
        if s.get("score") is not None:
            why += f" (closeness {s['score']})"
        source = (
            f"; closest: *{s['source']}*: “{' '.join(str(s['source_sentence']).split())[:160]}”"
            if s.get("source_sentence")
            else ""
        )
        text = " ".join(str(s.get("text", "")).split())[:300]
        shown = f"**kept** {text}" if s.get("kept") else f"**dropped** ~~{text}~~"
        items.append(f"- {shown} — {why}{source}")
    tail = []
    if quote.get("appended"):
        tail.append(f"**Quote added after the kept sentences:** {quote['appended']}")
    if quote.get("why_none"):
        tail.append(f"**No quote:** {quote['why_none']}")
    if quote.get("sentences"):
        tail.append("**Quoted:** " + " … ".join(f"“{q}”" for q in quote["sentences"]))
    return "\n\n".join(["\n".join(head), "\n".join(items) or "*no sentence from the model*", *tail])


def inspector_markdown(turn: dict[str, Any]) -> str:
    """The turn inspector as Markdown: window, dropped turns, chunks, tools, steps, the answer check
    and timings."""
    window, timings = turn["window"], turn["timings_ms"]
    versions = (
        ", ".join(f"{k} v{v}" for k, v in sorted(turn["prompt_versions"].items()))
        or "prompt files (unversioned)"
    )
    rating = turn.get("feedback")
    parts = [
        f"### Reply `#{turn['message_id']}` to message `#{turn['reply_to']}`"
        + (f" {THUMBS[rating['rating']]}" if rating else ""),
        f"**Prompt:** {versions}",
        f"**Token budget for the conversation:** {window['budget']} (system prompt {window['system_tokens']} tokens"
        + (f", excerpts {window['excerpt_tokens']}" if window.get("excerpt_tokens") is not None else "")
        + "); "
        f"kept {window['kept_tokens']} tokens in {len(window['kept'])} messages, "
        f"dropped {window['dropped_tokens']} tokens in {len(window['dropped'])} messages",
        f"#### Dropped by the FIFO window ({len(window['dropped'])})\n"
        + _rows(window["dropped"], dropped=True),
        f"#### What the model saw after the system prompt ({len(window['kept'])})\n"
        + _rows(window["kept"], dropped=False),
    ]
    chunks = turn["retrieval"]["chunks"]
    if chunks:
        parts.append(
            "#### Retrieved chunks\n"
            + "\n".join(
                f"- `{c['chunk_id']}` score {c['score']}"
                + ("" if c.get("used") in (None, True) else " *(did not fit)*")
                for c in chunks
            )
        )
    if turn["tool_calls"]:
        parts.append(
            "#### Tool calls\n"
            + "\n".join(
                f"- `{t['name']}({json.dumps(t['arguments'], ensure_ascii=False)})` → {str(t['result'])[:300]} ({t['ms']} ms)"
                for t in turn["tool_calls"]
            )
        )
    steps = "\n".join(
        f"- step {s['step']}: {s['model_ms']} ms, {token_counts(s['input_tokens'], s['output_tokens'])} "
        f"({STOPPED.get(s['finish_reason'], s['finish_reason'])}{', counted by the app' if s.get('counted') else ''})"
        for s in turn["steps"]
    )
    parts.append("#### Model steps\n" + (steps or "*no model call*"))
    if turn.get("answer_check"):
        parts.append(answer_check_markdown(turn["answer_check"]))
    tokens = turn["tokens"]
    unreported = tokens.get("unreported") or 0
    partly = (
        f" (not reported for {unreported} of {len(turn['steps'])} steps)"
        if unreported and (tokens["input"] is not None or tokens["output"] is not None)
        else ""
    )
    total = token_counts(tokens["input"], tokens["output"]).removeprefix("tokens ")
    parts.append(
        f"**Tokens:** {total}{partly} · **Timings:** retrieval "
        f"{timings['retrieval']} ms, model {timings['model']} ms, tools {timings['tools']} ms, total {timings['total']} ms"
    )
    return "\n\n".join(parts)


def _version(value: float | None) -> int | None:
    return int(value) if value else None


def build_conversations_tab(services: Services, ui: gr.Blocks) -> None:
    """Adds the Conversations tab to `ui`, the Blocks being built (call inside its `with`)."""
    engine, browser, feedback = services.store.engine, services.browser, services.feedback

    def search(q: str, page: float | None) -> tuple[list[list[Any]], gr.Dropdown, str]:
        found = browser.search(q=q or "", page=int(page or 1), page_size=PAGE_SIZE)
        rows = [
            [
                c.session_id,
                str(c.state),
                f"{c.started_at:%b %d %H:%M}",
                f"{c.last_message_at:%b %d %H:%M}",
                c.customer_messages,
                c.feedback.get("up", 0),
                c.feedback.get("down", 0),
                c.summary,
            ]
            for c in found.conversations
        ]
        pages = max(1, -(-found.total // found.page_size))
        choices = [
            (f"{c.summary[:60] or c.session_id} · {c.last_message_at:%b %d %H:%M}", c.session_id)
            for c in found.conversations
        ]
        return (
            rows,
            gr.Dropdown(choices=choices, value=None),
            f"{found.total} conversation{'' if found.total == 1 else 's'} · page {found.page} of {pages}",
        )

    def opened(session_id: str | None) -> tuple[str, gr.Dropdown]:
        if not session_id:
            return "*Choose a conversation.*", gr.Dropdown(choices=[], value=None)
        try:
            messages = browser.transcript(session_id)
        except UnknownSessionError:
            return "*That conversation no longer exists.*", gr.Dropdown(choices=[], value=None)
        replies = [
            (f"#{m['id']}: {' '.join(m['content'].split())[:60]}", m["id"])
            for m in messages
            if m["inspectable"]
        ]
        return transcript_markdown(messages), gr.Dropdown(choices=replies, value=None)

    def inspect(message_id: int | None) -> str:
        if not message_id:
            return "*Choose a reply to inspect.*"
        try:
            return inspector_markdown(inspect_reply(engine, int(message_id), feedback))
        except UnknownMessageError:
            return "*That reply has no trace.*"

    def ratings() -> list[list[Any]]:
        return [
            [
                f"v{r['prompt_version']}" if r["prompt_version"] is not None else "unversioned",
                r["up"],
                r["down"],
                r["share_up"],
            ]
            for r in feedback.by_prompt_version()
        ]

    def export(kind: str, since: str, until: str, rating: str, version: float | None) -> str | None:
        try:
            start = datetime.fromisoformat(since.strip()).replace(tzinfo=UTC) if since.strip() else None
            end = datetime.fromisoformat(until.strip()).replace(tzinfo=UTC) if until.strip() else None
        except ValueError:
            gr.Warning("Dates must look like 2026-11-26 (or 2026-11-26T14:00).")
            return None
        filters = ExportFilters(
            since=start,
            until=end,
            rating=rating if rating in ("up", "down") and kind == "sft" else None,
            prompt_version=_version(version),
        )
        # In Gradio's own temp dir (DATA_DIR/gradio), which it empties hourly and at shutdown.
        folder = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"frontdesk-{kind}-{datetime.now(UTC):%Y%m%d-%H%M%S}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            out.writelines(export_lines(engine, kind=kind, filters=filters))
        return str(path)

    with gr.Tab("Conversations") as tab:
        with gr.Row():
            query = gr.Textbox(label="Search (words, or a session id)", scale=4, elem_id="conv-search")
            page = gr.Number(label="Page", value=1, minimum=1, precision=0, scale=1, elem_id="conv-page")
            search_button = gr.Button("Search", scale=1, elem_id="conv-search-button")
        count = gr.Markdown(elem_id="conv-count")
        listing = gr.Dataframe(headers=LIST_COLUMNS, interactive=False, elem_id="conv-list")
        chosen = gr.Dropdown(label="Conversation", choices=[], elem_id="conv-chosen")
        shown = gr.Markdown("*Choose a conversation.*", elem_id="conv-transcript")
        reply = gr.Dropdown(label="Inspect a reply", choices=[], elem_id="conv-reply")
        inspector = gr.Markdown("*Choose a reply to inspect.*", elem_id="conv-inspector")
        with gr.Accordion("Ratings per prompt version", open=False):
            rating_table = gr.Dataframe(headers=RATING_COLUMNS, interactive=False, elem_id="conv-ratings")
        with gr.Accordion("Export for fine-tuning (JSONL)", open=False):
            with gr.Row():
                kind = gr.Radio([("SFT transcripts", "sft"), ("DPO pairs", "dpo")], value="sft", label="Kind")
                since = gr.Textbox(label="From (date)", placeholder="2026-11-01")
                until = gr.Textbox(label="Before (date)", placeholder="2026-12-01")
                rating = gr.Dropdown(
                    [("any", "any"), ("👍", "up"), ("👎", "down")], value="any", label="Rating (SFT)"
                )
                version = gr.Number(label="Prompt version", value=None, precision=0)
            export_button = gr.Button("Export", elem_id="conv-export-button")
            exported = gr.File(label="Download", interactive=False, elem_id="conv-export")

        found = [listing, chosen, count]
        search_button.click(search, inputs=[query, page], outputs=found).then(ratings, outputs=[rating_table])
        query.submit(lambda q: search(q, 1), inputs=[query], outputs=found)
        chosen.change(opened, inputs=[chosen], outputs=[shown, reply])
        reply.change(inspect, inputs=[reply], outputs=[inspector])
        export_button.click(export, inputs=[kind, since, until, rating, version], outputs=[exported])
    ui.load(search, inputs=[query, page], outputs=found).then(ratings, outputs=[rating_table])
    # Opening the tab shows the conversations since the page was loaded, not those it loaded with.
    tab.select(search, inputs=[query, page], outputs=found).then(ratings, outputs=[rating_table])
