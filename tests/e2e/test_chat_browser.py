"""The customer chat at `/` in headless Chromium, against the real app and the embedded model."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.stored import stored_conversation, wait_for_statuses
from web.chat_view import WAITING

pytestmark = pytest.mark.slow

QUESTION = "What is your returns policy for unused items?"
RETURNS_TITLE = "Returns Policy"  # knowledge/demo/returns-policy.md

BOT = '#chat [data-testid="bot"]'
USER = '#chat [data-testid="user"]'

# Records every distinct text of the last assistant message, as the browser renders it.
RECORD_BOT_TEXTS = """() => {
    window.__botTexts = [];
    const record = () => {
        const bots = document.querySelectorAll('#chat [data-testid="bot"]');
        if (!bots.length) return;
        const text = bots[bots.length - 1].innerText;
        const seen = window.__botTexts;
        if (seen[seen.length - 1] !== text) seen.push(text);
    };
    new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def send(page: Page, text: str) -> None:
    box = page.locator("#message textarea")
    box.fill(text)
    box.press("Enter")


def wait_for_final_reply(page: Page) -> str:
    """The last assistant message once it is final (the sources line comes with the final update)."""
    last_bot = page.locator(BOT).last
    expect(last_bot).to_contain_text("Sources:")
    return last_bot.inner_text()


def same_words(text: str) -> re.Pattern[str]:
    """Matches `text` however the browser spaces its words: a reply's soft line break renders as a
    line break while it streams in and as nothing once the page is loaded afresh."""
    return re.compile(r"^\s*" + r"\s*".join(re.escape(w) for w in text.split()) + r"\s*$")


def past_options(page: Page):
    page.locator("#past input").click()
    return page.get_by_role("option")


class QueueGate:
    """A route handler holding the page's Gradio event requests while closed; `release` sends them."""

    def __init__(self) -> None:
        self.open = False
        self.held: list[Route] = []

    def __call__(self, route: Route) -> None:
        if self.open:
            route.continue_()
        else:
            self.held.append(route)

    def wait_until_holding(self, page: Page, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.held:  # route handlers run while Playwright is called: poll through it
            assert time.monotonic() < deadline, "the page sent no Gradio event to hold"
            page.wait_for_timeout(50)

    def release(self) -> None:
        self.open = True
        while self.held:
            self.held.pop(0).continue_()


def session_id_from_browser(page: Page) -> str | None:
    """The open session id as the browser keeps it, or None where it can't be read."""
    storage = json.loads(page.evaluate("() => JSON.stringify(Object.assign({}, window.localStorage))"))
    try:
        state = json.loads(storage.get("frontdesk-chat", ""))
    except ValueError:
        state = None  # gr.BrowserState encrypts its value: not readable here
    if isinstance(state, dict) and state.get("session_id"):
        return state["session_id"]
    # Gradio also keeps a plain-text record of recent event runs, outputs included; the state that
    # `send` returned last is the session the browser holds.
    found = None
    for key, value in storage.items():
        if not key.startswith("gradio:run-history"):
            continue
        try:
            runs = json.loads(value)
        except ValueError:
            continue
        for run in runs if isinstance(runs, list) else []:
            if isinstance(run, dict) and run.get("api_name") == "/send" and run.get("status") == "completed":
                for output in run.get("outputs") or []:
                    if isinstance(output, dict) and output.get("session_id"):
                        found = output["session_id"]
    return found


def test_chat_streams_cites_and_keeps_the_conversation(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/")
    expect(page.locator("#message textarea")).to_be_editable()
    page.evaluate(RECORD_BOT_TEXTS)

    send(page, QUESTION)
    expect(page.locator(USER).last).to_have_text(QUESTION)
    final = wait_for_final_reply(page)

    # The reply streamed: the browser showed it growing before the final text arrived.
    partial = [t for t in page.evaluate("() => window.__botTexts") if t.strip() and "Sources:" not in t]
    assert len({len(t) for t in partial}) >= 2, (
        f"no streaming seen; texts rendered: {partial!r}; final: {final!r}"
    )
    answer, _, sources = final.partition("Sources:")
    assert answer.strip(), final
    assert RETURNS_TITLE in sources, final

    # A reload shows the same conversation, read back from the store.
    page.reload()
    expect(page.locator(USER)).to_have_count(1)
    expect(page.locator(USER)).to_have_text(QUESTION)
    expect(page.locator(BOT)).to_have_count(1)
    expect(page.locator(BOT)).to_have_text(same_words(final))
    # The list of this browser's conversations shows which one is open.
    expect(page.locator("#past input")).to_have_value(re.compile("^" + re.escape(QUESTION[:40])))

    # "New conversation" empties the chat; the old one is listed under "Past conversations".
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(USER)).to_have_count(0)
    expect(page.locator(BOT)).to_have_count(0)
    option = past_options(page).filter(has_text=QUESTION)
    expect(option).to_have_count(1)
    option.click()
    expect(page.locator(USER)).to_have_text([QUESTION])
    expect(page.locator(BOT)).to_have_text([same_words(final)])


def test_message_sent_in_browser_is_stored(page: Page, app_url: str) -> None:
    question = "How long do refunds take to arrive?"
    page.goto(f"{app_url}/")
    send(page, question)
    reply = wait_for_final_reply(page)

    session_id = session_id_from_browser(page)
    if session_id is None:
        pytest.skip("the browser's session id is not readable (gr.BrowserState encrypts localStorage)")
    response = httpx.get(f"{app_url}/api/v1/sessions/{session_id}/messages", timeout=30)
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == [question]
    replies = [m["content"] for m in messages if m["role"] == "assistant" and m["content"]]
    assert replies, messages
    # The browser shows the stored reply rendered as Markdown: compare its first words.
    words = re.findall(r"\w+", replies[-1])[:5]
    assert words and all(w in reply for w in words), (reply, replies[-1])


def test_a_message_sent_before_the_page_finished_loading_stays_private(browser, app_url: str) -> None:
    """Two visitors who both send before the page-load event answered must not see each other's chats.

    The page-load event (which gives the browser its client id) is held back until the first reply
    has started, as on a slow or just-started server.
    """
    pages = []
    for question in ["Do you ship to Canada?", "Which payment methods do you accept?"]:
        page = browser.new_context().new_page()
        pages.append(page)
        gate = QueueGate()
        page.route(re.compile(r".*/gradio_api/queue/join.*"), gate)
        page.goto(f"{app_url}/")
        gate.wait_until_holding(page)
        gate.open = True
        send(page, question)
        expect(page.locator(USER)).to_have_text([question])
        gate.release()
        wait_for_final_reply(page)
        options = past_options(page)
        expect(options).to_have_count(1)
        expect(options).to_contain_text([question])
        page.keyboard.press("Escape")
    for page in pages:
        page.context.close()


def test_a_message_sent_while_an_answer_streams_is_kept_and_answered_after_it(
    page: Page, app_url: str, app_data_dir: Path
) -> None:
    first, second = "Do you ship to Alaska?", "What about Hawaii?"
    page.goto(f"{app_url}/")
    expect(page.locator("#message textarea")).to_be_editable()
    send(page, first)
    expect(page.locator(USER)).to_have_text([first])
    page.wait_for_timeout(200)  # the first turn is under way (it takes a second or more)
    send(page, second)

    # The second message is shown and the box is free again, while the first is answered ...
    expect(page.locator(USER)).to_have_text([first, second])
    expect(page.locator("#message textarea")).to_have_value("")
    # ... then both are answered, in order, each reply shown under its own message.
    wait_for_statuses(app_data_dir, first, ["answered", "answered"])
    stored = stored_conversation(app_data_dir, first)
    users = [m for m in stored if m.role == "user"]
    assert [m.content for m in users] == [first, second]
    replies = [m for m in stored if m.is_final_reply]
    assert [r.reply_to for r in replies] == [users[0].id, users[1].id]
    assert replies[0].id < replies[1].id
    # It really was sent while the first answer was being written.
    assert users[1].created_at < replies[0].created_at
    bots = page.locator(BOT)
    expect(bots).to_have_count(2)
    expect(bots.filter(has_text=WAITING)).to_have_count(0)
    for i, reply in enumerate(replies):
        words = re.findall(r"\w+", reply.content)[:5]
        for word in words:
            expect(bots.nth(i)).to_contain_text(word)


def test_messages_waiting_when_the_customer_leaves_are_still_answered(
    page: Page, app_url: str, app_data_dir: Path
) -> None:
    # Found trying the chat: three messages sent quickly, then "New conversation" while the first was
    # being answered; the two behind it said "Saved, waiting for an answer" and were never answered.
    questions = ["Do you ship to Puerto Rico?", "Can I pay with PayPal?", "Do gift cards ever expire?"]
    page.goto(f"{app_url}/")
    expect(page.locator("#message textarea")).to_be_editable()
    for question in questions:
        send(page, question)
        expect(page.locator(USER).last).to_have_text(question)
    expect(page.locator(BOT).filter(has_text=WAITING)).not_to_have_count(0)
    page.locator("#new-conversation").click()
    expect(page.locator(USER)).to_have_count(0)

    wait_for_statuses(app_data_dir, questions[0], ["answered"] * 3)
    stored = stored_conversation(app_data_dir, questions[0])
    assert [m.content for m in stored if m.role == "user"] == questions
    assert len([m for m in stored if m.is_final_reply]) == 3


def test_the_trash_icon_starts_a_new_conversation(page: Page, app_url: str) -> None:
    question, next_question = "Can I change my order after placing it?", "Do you offer gift cards?"
    page.goto(f"{app_url}/")
    send(page, question)
    wait_for_final_reply(page)

    page.locator("#chat button[aria-label='Clear']").click()
    expect(page.locator(USER)).to_have_count(0)

    # A reload does not bring the conversation back; it is listed under "Past conversations".
    page.reload()
    expect(past_options(page).filter(has_text=question)).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator(USER)).to_have_count(0)

    # The next message starts a conversation of its own.
    send(page, next_question)
    wait_for_final_reply(page)
    expect(page.locator(USER)).to_have_text([next_question])
    options = past_options(page)
    expect(options).to_have_count(2)
    page.keyboard.press("Escape")
