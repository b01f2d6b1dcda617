"""The customer chat (Gradio): a thin adapter that stores what the customer sends and shows the
conversation from the store, with the reply being streamed.

Sending is two events. `send` stores the message at once and shows it; it is never refused while
an answer streams (`trigger_mode="multiple"`). Then `answer` answers every message of the session
still waiting, oldest first; a second `answer` asked for while one runs waits for it
(`trigger_mode="always_last"`), so one page streams one answer at a time. The agent itself keeps
turns of one session in order, across pages and processes.

The browser keeps a random client id and the open session id in localStorage (gr.BrowserState).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import gradio as gr

from agents.validation import InvalidMessageError
from handoff import PERSON_STATES
from llm.factory import BackendUnavailableError
from memory.store import StoredMessage, UnknownSessionError
from memory.turnlock import TurnBusyError
from memory.window import ContextOverflowError
from web.chat_feedback import rate_shown_message
from web.chat_view import chat_placeholder, chat_ratings, not_answered, page_title, to_chat_messages
from web.services import Services

log = logging.getLogger(__name__)

# gr.BrowserState encrypts in the browser, so Gradio sends its key to every page (GET /config):
# it cannot be a secret. A fixed key lets every restart and replica read the state; what the
# state holds is safe in the customer's own browser: a random client id and the open session id,
# both unguessable, whose conversations the server looks up.
BROWSER_STATE_KEY = "frontdesk-chat-state"
STORAGE_KEY = "frontdesk-chat"
# While a reply streams, the rest of the conversation is read again at most this often, so that
# a message sent meanwhile stays on screen.
REFRESH_S = 0.3
# Runs in the browser: empties the chat and drops the open session id from the browser state.
FORGET_OPEN_CONVERSATION = "(state) => [[], {...(state || {}), session_id: null}]"
# Runs in the browser once the server has answered after a forget: empties the chat again unless
# a message was sent meanwhile (it opened a conversation). An answer's redraw that was already on
# its way when the customer left the conversation lands after the first emptying, not this one.
CLEAR_IF_NONE_OPEN = "(state) => [state && state.session_id ? undefined : []]"
# The shortest time between two redraws of a streaming reply (the model's tokens come slower).
FRAME_S = 0.03
# The failure notices kept for redraws (the newest; older failed messages show the generic notice).
MAX_NOTICES = 1000
# How often an open chat looks for replies written by a person (after a handoff).
POLL_S = 3.0


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, BackendUnavailableError):
        return "The assistant is unavailable right now. Please try again in a moment."
    if isinstance(exc, ContextOverflowError):
        return str(exc)
    return "Something went wrong on our side. Please try again in a moment, or ask for a human agent."


def build_chat_ui(services: Services) -> gr.Blocks:
    store, agent, settings = services.store, services.agent, services.settings
    title = page_title(settings)

    def past_choices(client_id: str, open_id: str | None = None) -> gr.Dropdown:
        """This browser's conversations, newest first, showing the open one (`open_id`) as chosen."""
        sessions = store.sessions_for_client(client_id) if client_id else []
        choices = [(f"{s.title[:50]} · {s.updated_at:%b %d %H:%M}", s.id) for s in sessions]
        return gr.Dropdown(choices=choices, value=open_id if open_id in {s.id for s in sessions} else None)

    def drawn(rows: list[StoredMessage], **shown: Any) -> gr.Chatbot:
        """The chat showing `rows` with the customer's stored thumbs, so a redraw keeps them."""
        replies = [m.id for m in rows if m.role != "user"]
        ratings = {i: r.rating for i, r in services.feedback.for_messages(replies).items()}
        messages: Any = to_chat_messages(rows, **shown)  # Gradio's message dicts
        return gr.Chatbot(value=messages, feedback_value=chat_ratings(rows, ratings, **shown))

    def history(session_id: str | None) -> list[StoredMessage]:
        if not session_id:
            return []
        try:
            return store.messages(session_id)
        except UnknownSessionError:
            return []

    def streaming(session_id: str, message_id: int) -> list[StoredMessage]:
        """The conversation while message `message_id`'s reply streams: without that reply once it is
        stored (the turn stores it before its last pieces are shown), so the reply keeps being written
        out; the last redraw shows it as stored, with its sources."""
        return [m for m in history(session_id) if not (m.is_final_reply and m.reply_to == message_id)]

    def restore(state: dict | None) -> tuple[Any, Any, Any, dict]:
        """The open conversation and the past ones, as this browser last left them; and the
        conversation restored, whose waiting messages the page load then answers.

        Changes the browser state only to forget a conversation that no longer exists: a message
        sent before this page-load event is answered must keep the state that `send` gave it (and
        `send` answers it: the page load answers only what it restored).
        """
        state = dict(state or {})
        client_id, session_id = state.get("client_id"), state.get("session_id")
        past_list = past_choices(client_id, session_id) if client_id else gr.skip()
        if not session_id:
            return gr.skip(), past_list, gr.skip(), {}
        if not store.exists(session_id):
            return [], past_list, {**state, "session_id": None}, {}
        return (
            drawn(history(session_id)),
            past_list,
            gr.skip(),
            {"session_id": session_id, "client_id": client_id},
        )

    def send(text: str, state: dict | None) -> tuple[Any, Any, dict]:
        """Store the message and show it; `answer` runs next."""
        state = dict(state or {})
        if not state.get("client_id"):
            # A message sent before the page-load `restore` has answered arrives with no client id;
            # stored under "", its session would be listed as "past" in every other such browser.
            state["client_id"] = secrets.token_urlsafe(16)
        session_id = state.get("session_id")
        if session_id and not store.exists(session_id):
            session_id = None
        try:
            # A conversation a person closed (its notice says so) is not written to again: the
            # message starts a new one, which the bot answers and can hand to a person again.
            stored = agent.accept(text, session_id=session_id, client_id=state["client_id"])
        except InvalidMessageError as exc:
            gr.Warning(str(exc))
            return gr.skip(), gr.skip(), state
        state["session_id"] = stored.session_id
        return "", to_chat_messages(history(stored.session_id)), state

    # Why a message failed, by message id, for every page this process serves: another answer
    # handler of the same page (a second message sent meanwhile) redraws the chat with it too.
    notices: OrderedDict[int, str] = OrderedDict()

    def answer(state: dict | None) -> Iterator[tuple[Any, Any, Any]]:
        """Answer the session's waiting messages in order, streaming each reply into the chat.

        The turn runs detached on the turn loop (agents/runner.py): a page that goes away stops
        showing the answer, the turn goes on and its reply is stored, and the messages still waiting
        behind it are answered in the background.
        """
        state = state or {}
        session_id = state.get("session_id")
        if not session_id or not store.exists(session_id):
            yield gr.skip(), gr.skip(), gr.skip()
            return
        tried: set[int] = set()
        try:
            while waiting := [m for m in store.pending(session_id) if m.id not in tried]:
                message = waiting[0]
                tried.add(message.id)
                text, rows, read_at = "", streaming(session_id, message.id), time.monotonic()
                shown_at = 0.0
                try:
                    for event in agent.stream(session_id, message.id):
                        if event.kind != "token":
                            continue
                        # A reply can arrive in one burst (a quote from the sources once the model's
                        # sentences failed the check; the agent's own words in one piece): paced word
                        # by word, the customer sees it being written.
                        for piece in re.findall(r"\s*\S+\s*", event.text) or [event.text]:
                            text += piece
                            if time.monotonic() - read_at > REFRESH_S:
                                rows, read_at = streaming(session_id, message.id), time.monotonic()
                            if (wait := shown_at + FRAME_S - time.monotonic()) > 0:
                                time.sleep(wait)
                            shown_at = time.monotonic()
                            yield (
                                to_chat_messages(rows, partial={message.id: text}, notices=notices),
                                gr.skip(),
                                gr.skip(),
                            )
                except TurnBusyError:
                    break  # another worker still holds the conversation; the message stays waiting
                except Exception as exc:
                    if not isinstance(exc, (BackendUnavailableError, ContextOverflowError)):
                        log.exception("turn for message %s failed", message.id)
                    notices[message.id] = not_answered(_failure_reason(exc))
                    while len(notices) > MAX_NOTICES:
                        notices.popitem(last=False)
        except GeneratorExit:
            # The page left (another conversation, a closed tab): what it was still to answer is
            # answered in the background, after the turn in progress, and shown when it comes back.
            if store.pending(session_id):
                agent.answer_waiting(session_id)
            raise
        # Polling for a person's replies runs only while a person has (or will take) the conversation.
        with_person = services.handoff is not None and services.handoff.state(session_id) in PERSON_STATES
        yield (
            drawn(history(session_id), notices=notices),
            past_choices(state.get("client_id") or "", session_id),
            gr.Timer(active=with_person),
        )

    def poll(state: dict | None, shown: int) -> tuple[Any, int]:
        """A person's reply appears without a reload: redraw when the conversation has new rows.

        Skipped while a message waits, so the streaming answer is not redrawn under the customer.
        """
        session_id = (state or {}).get("session_id")
        if not session_id or not store.exists(session_id) or store.pending(session_id):
            return gr.skip(), shown
        # Polling runs while a person has the conversation (and until the page's next answer): the
        # person's replies, and the bot's to what they left unanswered when handing it back.
        rows = history(session_id)
        if len(rows) == shown:
            return gr.skip(), shown
        return to_chat_messages(rows), len(rows)

    def refresh_past(state: dict | None) -> gr.Dropdown:
        state = state or {}
        return past_choices(state.get("client_id") or "", state.get("session_id"))

    def rate(state: dict | None, like: gr.LikeData) -> None:
        """A thumbs up or down on a reply (clicking it again withdraws it)."""
        notice = rate_shown_message(
            store=store,
            feedback=services.feedback,
            session_id=(state or {}).get("session_id"),
            index=like.index,
            value=like.value,
            liked=like.liked,
        )
        if notice:
            gr.Warning(notice)

    def open_conversation(session_id: str | None, state: dict | None) -> tuple[Any, dict]:
        if not session_id:
            return gr.skip(), state or {}
        if not store.exists(session_id):
            gr.Warning("That conversation no longer exists.")
            return gr.skip(), state or {}
        return drawn(history(session_id)), {**(state or {}), "session_id": session_id}

    with gr.Blocks(title=title, fill_height=True) as ui:
        state = gr.BrowserState(
            {"client_id": "", "session_id": None}, storage_key=STORAGE_KEY, secret=BROWSER_STATE_KEY
        )
        gr.Markdown(f"## {title}")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=220):
                new_button = gr.Button("New conversation", elem_id="new-conversation")
                past = gr.Dropdown(label="Past conversations", choices=[], interactive=True, elem_id="past")
            with gr.Column(scale=4):
                # One bubble per message: a notice ("Ana … has joined") is not part of the reply before it.
                chatbot = gr.Chatbot(
                    label="Chat",
                    height=520,
                    elem_id="chat",
                    placeholder=chat_placeholder(settings),
                    group_consecutive_messages=False,
                )
                box = gr.Textbox(
                    placeholder="Type your question and press Enter",
                    show_label=False,
                    autofocus=True,
                    submit_btn=True,
                    elem_id="message",
                )

        # Every path that opens a conversation ends by answering what is still waiting in it (a
        # message whose turn was cut off by a restart, say); the agent replays what another page
        # or worker answers meanwhile. The answers share one concurrency limit.
        shown_rows = gr.State(-1)
        timer = gr.Timer(POLL_S, active=False)
        timer.tick(poll, inputs=[state, shown_rows], outputs=[chatbot, shown_rows], show_progress="hidden")
        answering = {
            "fn": answer,
            "inputs": [state],
            "outputs": [chatbot, past, timer],
            "trigger_mode": "always_last",
            "concurrency_id": "answer",
            "show_progress": "hidden",
        }
        restored = gr.State({})
        loaded = ui.load(restore, inputs=[state], outputs=[chatbot, past, state, restored])
        on_load = loaded.then(**{**answering, "inputs": [restored]})
        sent = box.submit(
            send,
            inputs=[box, state],
            outputs=[box, chatbot, state],
            trigger_mode="multiple",
            show_progress="hidden",
        )
        on_send = sent.then(**answering)
        opened = past.input(open_conversation, inputs=[past, state], outputs=[chatbot, state])
        on_open = opened.then(**answering)
        # Leaving a conversation stops showing its answer; the turn itself finishes and is stored.
        # "New conversation" and the chat's own trash icon forget the open conversation in the
        # browser itself, at once: a reload right after the click must not bring it back, however
        # busy the server is. The cancel goes first, but a redraw the server had already sent still
        # lands: once the server has refreshed the past list (by then it has the cancel), the chat
        # is emptied again if no new conversation was opened meanwhile.
        answers = [on_load, on_send, on_open]
        gr.on(
            [new_button.click, chatbot.clear],
            None,
            inputs=[state],
            outputs=[chatbot, state],
            js=FORGET_OPEN_CONVERSATION,
            cancels=answers,
        ).then(refresh_past, inputs=[state], outputs=[past], show_progress="hidden").then(
            None, inputs=[state], outputs=[chatbot], js=CLEAR_IF_NONE_OPEN
        )
        past.input(None, cancels=answers)
        chatbot.like(rate, inputs=[state], outputs=None, show_progress="hidden")
    return ui
