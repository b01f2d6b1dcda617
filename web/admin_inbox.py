"""The admin console's Inbox tab: conversations waiting for a person, their transcripts, take / reply /
hand back / close, and the refund requests and tickets the agent recorded. A thin adapter over the
handoff and commerce services (the same rules as the admin REST routes in web/api_handoff.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import gradio as gr

from commerce import CommerceError
from handoff import ConversationState, HandoffConflictError
from handoff.notices import NOTICE_ROLE
from handoff.service import INBOX_STATES, ConversationStatus
from memory.order import conversation_order
from memory.store import StoredMessage, UnknownSessionError
from review.browser import ConversationRow
from web.api_handoff import Move, decide_refund, move, post_human_reply
from web.errors import ApiError
from web.services import Services

INBOX_COLUMNS = ["session", "state", "since (UTC)", "assignee", "why"]
REFUND_COLUMNS = ["number", "order", "status", "reason", "requested (UTC)"]
# A ticket's session is the conversation it came from (find it in the Conversations tab).
TICKET_COLUMNS = ["number", "subject", "status", "created (UTC)", "session"]
# The tab lists this many conversations; the Conversations tab and the REST route page through all.
INBOX_ROWS = 100
# How often an open Inbox reloads its list and the open conversation, in seconds.
REFRESH_S = 5
# A dropdown entry names its conversation by this many characters of the session id (the list's first column).
ID_PREFIX = 8
NOTHING_OPEN = "*Choose a conversation.*"
NAME_FIRST = "Type your name in “Your name” first: it says who holds the conversation and who replied."


class NameMissing(Exception):
    """A move or reply with no name in the inbox's name box."""


# What an inbox action may answer with a warning instead of a change.
FAILURES = (ApiError, HandoffConflictError, UnknownSessionError, CommerceError, NameMissing)
# The tab's view of the open conversation: the list, the dropdown, the header and the transcript.
Board = tuple[list[list[Any]], gr.Dropdown, str, str]


def stamp(moment: datetime) -> str:
    """A time as the Inbox shows it, in UTC to the minute ("Nov 27 00:09"); its columns say "(UTC)"."""
    return f"{moment.astimezone(UTC):%b %d %H:%M}"


def entry(state: str, since: datetime, session_id: str, summary: str) -> str:
    """A Conversation dropdown entry: two customers who ask alike still differ by time and session id."""
    return f"{state} · {stamp(since)} · {session_id[:ID_PREFIX]} · {summary[:60]}"


def state_line(status: ConversationStatus | ConversationRow) -> str:
    """The open conversation's header: its state, who holds it, and why, each said once. A take's
    default reason ("taken by Ana") only repeats the holder, so it is left out."""
    parts = [f"**{status.state}**"]
    if status.assignee and status.state == ConversationState.HUMAN:
        parts.append(f"held by {status.assignee}")
    elif status.assignee and status.state == ConversationState.CLOSED:
        parts.append(f"handled by {status.assignee}")
    if status.reason and status.reason != f"taken by {status.assignee}":
        parts.append(status.reason)
    return " · ".join(parts)


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
    handoff, commerce, browser = services.handoff, services.commerce, services.browser
    if handoff is None or commerce is None:
        return

    def listed(show: str) -> list[ConversationRow]:
        states = [str(s) for s in INBOX_STATES] if show == "waiting" else [show]
        return browser.search(states=states, order="inbox", page_size=INBOX_ROWS).conversations

    def opened(session_id: str | None) -> tuple[str, str]:
        if not session_id:
            return NOTHING_OPEN, ""
        return transcript(browser.history(session_id)), state_line(handoff.status(session_id))

    def board(show: str, session_id: str | None) -> Board:
        """The list, the dropdown's entries, and the chosen conversation's header and transcript, from
        one list search and one read of its messages (its state comes from its row when listed). The
        chosen conversation keeps its entry when the list no longer shows it (closed, say), so the
        dropdown, the header and the transcript always speak of the same conversation, as it is now."""
        rows = listed(show)
        table = [[r.session_id, str(r.state), stamp(r.since), r.assignee or "", r.summary] for r in rows]
        choices = [(entry(r.state, r.since, r.session_id, r.summary), r.session_id) for r in rows]
        if not session_id:
            return table, gr.Dropdown(choices=choices), "", NOTHING_OPEN
        row = next((r for r in rows if r.session_id == session_id), None)
        try:
            status = row or handoff.status(session_id)
            history = browser.history(session_id)
        except UnknownSessionError:  # deleted meanwhile: nothing is open any more
            return table, gr.Dropdown(choices=choices, value=None), "", NOTHING_OPEN
        if row is None:
            said = next((m.content for m in reversed(history) if m.role == "user"), "")
            summary = status.reason or " ".join(said.split())
            choices.append((entry(status.state, status.since, session_id, summary), session_id))
        return table, gr.Dropdown(choices=choices), state_line(status), transcript(history)

    def refund_rows() -> list[list[Any]]:
        return [
            [r.number, r.order_number, r.status, r.reason, stamp(r.created_at)]
            for r in commerce.refund_requests()
        ]

    def ticket_rows() -> list[list[Any]]:
        return [
            [t.number, t.subject, t.status, stamp(t.created_at), t.session_id or ""]
            for t in commerce.tickets()
        ]

    def refresh(show: str, session_id: str | None) -> tuple[Any, ...]:
        return *board(show, session_id), refund_rows(), ticket_rows()

    def picked(event: gr.SelectData) -> str:
        """The session id (column 0) of the list row clicked, to open in the Conversation dropdown."""
        return str(event.row_value[0])

    def who(name: str) -> str:
        # Everyone signs in as "admin": only the name says which person holds a conversation, so a
        # move without one is refused rather than recorded as "admin" (whom nobody else can replace).
        if not name.strip():
            raise NameMissing(NAME_FIRST)
        return name.strip()

    def take(show: str, session_id: str | None, name: str) -> Board:
        return act("take", show, session_id, name)

    def release(show: str, session_id: str | None, name: str) -> Board:
        return act("release", show, session_id, name)

    def close(show: str, session_id: str | None, name: str) -> Board:
        return act("close", show, session_id, name)

    def approve(number: str, name: str) -> list[list[Any]]:
        return decide(number, True, name)

    def reject(number: str, name: str) -> list[list[Any]]:
        return decide(number, False, name)

    def act(action: Move, show: str, session_id: str | None, name: str) -> Board:
        if not session_id:
            gr.Warning("Choose a conversation first.")
            return board(show, session_id)
        try:
            move(services, session_id, action, by=who(name))
        except FAILURES as exc:
            gr.Warning(str(exc))
        return board(show, session_id)

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
            decide_refund(services, number.strip(), approve=approve, by=who(name))
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
        shown = gr.Markdown(NOTHING_OPEN, elem_id="inbox-transcript")
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

        # The open conversation is redrawn with the list, so a customer's new message shows unasked.
        viewed = [conversations, chosen, header, shown]
        listing = [*viewed, refunds, tickets]
        refresh_button.click(refresh, inputs=[show, chosen], outputs=listing)
        show.change(refresh, inputs=[show, chosen], outputs=listing)
        gr.Timer(REFRESH_S).tick(board, inputs=[show, chosen], outputs=viewed)
        conversations.select(picked, inputs=None, outputs=[chosen])
        chosen.change(opened, inputs=[chosen], outputs=[shown, header])
        for button, handler in ((take_button, take), (release_button, release), (close_button, close)):
            button.click(handler, inputs=[show, chosen, name], outputs=viewed)
        send_button.click(reply, inputs=[chosen, answer, name], outputs=[answer, shown, header])
        approve_button.click(approve, inputs=[refund_number, name], outputs=[refunds])
        reject_button.click(reject, inputs=[refund_number, name], outputs=[refunds])
    ui.load(refresh, inputs=[show, chosen], outputs=listing)
