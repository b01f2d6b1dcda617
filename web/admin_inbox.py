"""The admin console's Inbox tab: conversations waiting for a person, their transcripts, take / reply /
hand back / close, and the refund requests and tickets the agent recorded. A thin adapter over the
handoff and commerce services (the same rules as the admin REST routes in web/api_handoff.py)."""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from commerce import CommerceError
from handoff import ConversationState, HandoffConflictError
from handoff.notices import NOTICE_ROLE
from handoff.service import INBOX_STATES
from memory.order import conversation_order
from memory.store import StoredMessage, UnknownSessionError
from web.api_handoff import Move, move, post_human_reply
from web.errors import ApiError
from web.services import Services

INBOX_COLUMNS = ["session", "state", "since", "assignee", "why"]
REFUND_COLUMNS = ["number", "order", "status", "reason", "requested"]
TICKET_COLUMNS = ["number", "subject", "status", "created"]
# The tab lists this many conversations; the Conversations tab and the REST route page through all.
INBOX_ROWS = 100
NAME_FIRST = "Type your name in “Your name” first: it says who holds the conversation and who replied."


class NameMissing(Exception):
    """A move or reply with no name in the inbox's name box."""


# What an inbox action may answer with a warning instead of a change.
FAILURES = (ApiError, HandoffConflictError, UnknownSessionError, CommerceError, NameMissing)


def transcript(history: list[StoredMessage]) -> str:
    """The whole conversation as Markdown, in conversation order (memory/order.py: each reply with
    its tool calls and their results right after the message it answers)."""
    lines = []
    for m in conversation_order(history):
        if m.role == "user":
            lines.append(f"**Customer:** {m.content}")
        elif m.role == "human_agent":
            lines.append(f"**Support agent:** {m.content}")
        elif m.role == NOTICE_ROLE:
            lines.append(f"*— {m.content}*")
        elif m.role == "tool":
            lines.append(f"> *tool result:* {m.content[:500]}")
        elif m.tool_calls:
            calls = "; ".join(
                f"`{c['name']}({json.dumps(c['args'], ensure_ascii=False)})`" for c in m.tool_calls
            )
            lines.append(f"*Assistant called* {calls}")
        elif m.content:
            lines.append(f"**Assistant:** {m.content}")
    return "\n\n".join(lines) or "*No messages yet.*"


def build_inbox_tab(services: Services, ui: gr.Blocks) -> None:
    """Adds the Inbox tab to `ui`, the Blocks being built (call inside its `with`)."""
    handoff, commerce, store = services.handoff, services.commerce, services.store
    if handoff is None or commerce is None:
        return

    def inbox_rows(show: str) -> list[list[Any]]:
        states = [str(s) for s in INBOX_STATES] if show == "waiting" else [show]
        found = services.browser.search(states=states, order="inbox", page_size=INBOX_ROWS)
        return [
            [c.session_id, str(c.state), f"{c.since:%b %d %H:%M}", c.assignee or "", c.summary]
            for c in found.conversations
        ]

    def session_choices(show: str) -> gr.Dropdown:
        return gr.Dropdown(choices=[(f"{r[1]} · {r[4][:60]}", r[0]) for r in inbox_rows(show)])

    def refund_rows() -> list[list[Any]]:
        return [
            [r.number, r.order_number, r.status, r.reason, f"{r.created_at:%b %d %H:%M}"]
            for r in commerce.refund_requests()
        ]

    def ticket_rows() -> list[list[Any]]:
        return [[t.number, t.subject, t.status, f"{t.created_at:%b %d %H:%M}"] for t in commerce.tickets()]

    def refresh(show: str) -> tuple[list, gr.Dropdown, list, list]:
        return inbox_rows(show), session_choices(show), refund_rows(), ticket_rows()

    def opened(session_id: str | None) -> tuple[str, str]:
        if not session_id:
            return "*Choose a conversation.*", ""
        status = handoff.status(session_id)
        head = f"**{status.state}**" + (f" · held by {status.assignee}" if status.assignee else "")
        head += f" · {status.reason}" if status.reason else ""
        return transcript(store.messages(session_id)), head

    def who(name: str) -> str:
        # Everyone signs in as "admin": only the name says which person holds a conversation, so a
        # move without one is refused rather than recorded as "admin" (whom nobody else can replace).
        if not name.strip():
            raise NameMissing(NAME_FIRST)
        return name.strip()

    def take(session_id: str | None, name: str) -> tuple[str, str]:
        return act("take", session_id, name)

    def release(session_id: str | None, name: str) -> tuple[str, str]:
        return act("release", session_id, name)

    def close(session_id: str | None, name: str) -> tuple[str, str]:
        return act("close", session_id, name)

    def approve(number: str, name: str) -> list[list[Any]]:
        return decide(number, True, name)

    def reject(number: str, name: str) -> list[list[Any]]:
        return decide(number, False, name)

    def act(action: Move, session_id: str | None, name: str) -> tuple[str, str]:
        if not session_id:
            gr.Warning("Choose a conversation first.")
            return opened(session_id)
        try:
            move(services, session_id, action, by=who(name))
        except FAILURES as exc:
            gr.Warning(str(exc))
        return opened(session_id)

    def reply(session_id: str | None, text: str, name: str) -> tuple[str, str, str]:
        if not session_id or not text.strip():
            gr.Warning("Choose a conversation and write a reply.")
            return text, *opened(session_id)
        try:
            post_human_reply(services, session_id, text=text, agent=who(name))
        except FAILURES as exc:
            gr.Warning(getattr(exc, "message", str(exc)))
            return text, *opened(session_id)
        return "", *opened(session_id)

    def decide(number: str, approve: bool, name: str) -> list[list[Any]]:
        try:
            commerce.decide_refund(number=number.strip(), approve=approve, by=who(name))
        except FAILURES as exc:
            gr.Warning(str(exc))
        return refund_rows()

    with gr.Tab("Inbox"):
        with gr.Row():
            show = gr.Dropdown(
                label="Show",
                choices=[
                    ("Waiting for a person", "waiting"),
                    *[(s.value, s.value) for s in ConversationState],
                ],
                value="waiting",
                elem_id="inbox-show",
            )
            name = gr.Textbox(label="Your name (who takes and replies)", elem_id="inbox-agent")
            refresh_button = gr.Button("Refresh")
        conversations = gr.Dataframe(headers=INBOX_COLUMNS, interactive=False, elem_id="inbox-list")
        chosen = gr.Dropdown(label="Conversation", choices=[], elem_id="inbox-chosen")
        header = gr.Markdown(elem_id="inbox-state")
        shown = gr.Markdown("*Choose a conversation.*", elem_id="inbox-transcript")
        with gr.Row():
            take_button = gr.Button("Take", variant="primary", elem_id="inbox-take")
            release_button = gr.Button("Hand back to the bot", elem_id="inbox-release")
            close_button = gr.Button("Close", variant="stop", elem_id="inbox-close")
        answer = gr.Textbox(label="Reply to the customer", lines=2, elem_id="inbox-reply")
        send_button = gr.Button("Send reply", elem_id="inbox-send")
        with gr.Accordion("Refund requests", open=False):
            refunds = gr.Dataframe(headers=REFUND_COLUMNS, interactive=False, elem_id="inbox-refunds")
            with gr.Row():
                refund_number = gr.Textbox(label="Refund number (R-…)")
                approve_button = gr.Button("Approve")
                reject_button = gr.Button("Reject", variant="stop")
        with gr.Accordion("Tickets", open=False):
            tickets = gr.Dataframe(headers=TICKET_COLUMNS, interactive=False, elem_id="inbox-tickets")

        listing = [conversations, chosen, refunds, tickets]
        refresh_button.click(refresh, inputs=[show], outputs=listing)
        show.change(refresh, inputs=[show], outputs=listing)
        gr.Timer(5).tick(lambda s: inbox_rows(s), inputs=[show], outputs=[conversations])
        chosen.change(opened, inputs=[chosen], outputs=[shown, header])
        for button, handler in ((take_button, take), (release_button, release), (close_button, close)):
            button.click(handler, inputs=[chosen, name], outputs=[shown, header]).then(
                lambda s: inbox_rows(s), inputs=[show], outputs=[conversations]
            )
        send_button.click(reply, inputs=[chosen, answer, name], outputs=[answer, shown, header])
        approve_button.click(approve, inputs=[refund_number, name], outputs=[refunds])
        reject_button.click(reject, inputs=[refund_number, name], outputs=[refunds])
    ui.load(refresh, inputs=[show], outputs=listing)
