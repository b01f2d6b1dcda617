"""The customer chat (Gradio): a thin adapter turning turn events into chat messages.

The browser keeps its own random client id and the open session id in localStorage
(gr.BrowserState), so a reload shows the same conversation and past ones can be reopened.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import gradio as gr

from agents.validation import InvalidMessageError
from llm.factory import BackendUnavailableError
from memory.store import StoredMessage, UnknownSessionError
from memory.window import ContextOverflowError
from web.errors import BACKEND_UNAVAILABLE
from web.services import Services


def format_sources(citations: list[dict[str, Any]] | None) -> str:
    if not citations:
        return ""
    seen: dict[str, str] = {}
    for c in citations:
        seen.setdefault(c["document"], f"{c['title']} (`{c['chunk_id']}`)")
    return "\n\n**Sources:** " + "; ".join(seen.values())


def to_chat_messages(history: list[StoredMessage]) -> list[dict[str, str]]:
    """Stored rows as Gradio chat messages: the customer's words and the final replies."""
    shown = []
    for m in history:
        if m.role == "user":
            shown.append({"role": "user", "content": m.content})
        elif m.role == "assistant" and not m.tool_calls and m.content:
            shown.append({"role": "assistant", "content": m.content + format_sources(m.citations)})
    return shown


def build_chat_ui(services: Services, *, title: str) -> gr.Blocks:
    store, agent = services.store, services.agent

    def past_choices(client_id: str) -> gr.Dropdown:
        sessions = store.sessions_for_client(client_id) if client_id else []
        choices = [(f"{s.title[:50]} · {s.updated_at:%b %d %H:%M}", s.id) for s in sessions]
        return gr.Dropdown(choices=choices, value=None)

    def restore(state: dict | None) -> tuple[list, gr.Dropdown, dict]:
        state = dict(state or {})
        state.setdefault("client_id", "")
        if not state["client_id"]:
            state["client_id"] = secrets.token_urlsafe(16)
        history: list = []
        session_id = state.get("session_id")
        if session_id:
            try:
                history = to_chat_messages(store.messages(session_id))
            except UnknownSessionError:
                state["session_id"] = None
        return history, past_choices(state["client_id"]), state

    def send(text: str, chat: list, state: dict) -> Iterator[tuple[Any, list, Any, dict]]:
        state = dict(state or {})
        if not state.get("client_id"):
            # A message sent before the page-load `restore` has answered arrives with no client id;
            # stored under "", its session would be listed as "past" in every other such browser.
            state["client_id"] = secrets.token_urlsafe(16)
        session_id = state.get("session_id")
        if session_id and not store.exists(session_id):
            session_id = None
        try:
            stored = agent.accept(text, session_id=session_id, client_id=state.get("client_id"))
        except InvalidMessageError as exc:
            gr.Warning(str(exc))
            yield text, chat, gr.skip(), state
            return
        state["session_id"] = stored.session_id
        chat = [*chat, {"role": "user", "content": stored.content}, {"role": "assistant", "content": ""}]
        yield "", chat, gr.skip(), state
        reply = ""
        try:
            for event in agent.stream(stored.session_id, stored.id):
                if event.kind == "token":
                    reply += event.text
                    chat[-1] = {"role": "assistant", "content": reply}
                    yield "", chat, gr.skip(), state
                elif event.kind == "done" and event.result:
                    chat[-1] = {
                        "role": "assistant",
                        "content": event.result.reply + format_sources(event.result.citations),
                    }
        except (BackendUnavailableError, ContextOverflowError) as exc:
            message = BACKEND_UNAVAILABLE if isinstance(exc, BackendUnavailableError) else str(exc)
            chat[-1] = {"role": "assistant", "content": f"⚠️ {message}"}
        yield "", chat, past_choices(state.get("client_id") or ""), state

    def new_conversation(state: dict) -> tuple[list, gr.Dropdown, dict]:
        state = {**(state or {}), "session_id": None}
        return [], past_choices(state.get("client_id") or ""), state

    def open_conversation(session_id: str | None, state: dict) -> tuple[Any, dict]:
        if not session_id:
            return gr.skip(), state
        try:
            history = to_chat_messages(store.messages(session_id))
        except UnknownSessionError:
            gr.Warning("That conversation no longer exists.")
            return gr.skip(), state
        return history, {**(state or {}), "session_id": session_id}

    with gr.Blocks(title=title, fill_height=True) as ui:
        state = gr.BrowserState({"client_id": "", "session_id": None}, storage_key="frontdesk-chat")
        gr.Markdown(f"## {title}")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=220):
                new_button = gr.Button("New conversation", elem_id="new-conversation")
                past = gr.Dropdown(label="Past conversations", choices=[], interactive=True, elem_id="past")
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(
                    label="Chat",
                    height=520,
                    elem_id="chat",
                    placeholder="Ask about orders, shipping, returns, payments or your account.",
                )
                box = gr.Textbox(
                    placeholder="Type your question and press Enter",
                    show_label=False,
                    autofocus=True,
                    submit_btn=True,
                    elem_id="message",
                )
        ui.load(restore, inputs=[state], outputs=[chatbot, past, state])
        box.submit(send, inputs=[box, chatbot, state], outputs=[box, chatbot, past, state])
        new_button.click(new_conversation, inputs=[state], outputs=[chatbot, past, state])
        past.input(open_conversation, inputs=[past, state], outputs=[chatbot, state])
    return ui
