"""The review loop in real browsers on the real embedded model: a customer gives a reply a thumbs
down in the chat, and the admin sees it in the Conversations tab, whose turn inspector shows which
earlier turns the FIFO window dropped (a small context makes a three-message conversation long)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import APP_ENV
from tests.e2e.test_admin_browser import ADMIN_AUTH, log_in
from tests.e2e.test_chat_browser import BOT, send
from tests.utils.server import running_app

pytestmark = pytest.mark.slow

# 256 tokens of context leave about 130 for the conversation: each of these messages is ~50 tokens,
# so the third turn cannot keep the first.
SMALL_CONTEXT = {
    **APP_ENV,
    "FRONTDESK_CONTEXT_TOKENS": "256",
    "FRONTDESK_ANSWER_TOKENS": "24",
    "FRONTDESK_DEMO_DATA": "false",
    "FRONTDESK_ANSWER_MODE": "generative",
}
QUESTIONS = [
    "Alpha question: I bought a large wooden bookshelf last spring and one of the shelves has started to bend in the middle. What should I do about it?",
    "Bravo question: my neighbour recommended your blue ceramic plant pots, and I would like to know whether they are frost proof for a balcony garden.",
    "Charlie question: could you tell me whether gift cards bought in a shop can be used online as well, and whether they ever expire at all?",
]


@pytest.fixture(scope="module")
def app_url(app_data_dir: Path) -> Iterator[str]:
    with running_app(app_data_dir, env=SMALL_CONTEXT) as base:
        yield base


def conversations(app_url: str) -> list[dict]:
    response = httpx.get(
        f"{app_url}/api/v1/admin/conversations", params={"state": "all"}, auth=ADMIN_AUTH, timeout=30
    )
    return response.json()["conversations"]


def wait_until(condition, *, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_a_thumbs_down_reaches_the_admin_and_the_inspector_shows_dropped_turns(browser, app_url: str) -> None:
    customer = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    admin = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
    try:
        # The admin page is open before the customer writes: opening the tab shows what came since.
        log_in(admin, app_url)
        customer.goto(app_url)
        for number, question in enumerate(QUESTIONS, start=1):
            send(customer, question)
            expect(customer.locator(BOT)).to_have_count(number)
            wait_until(
                lambda n=number: any(
                    c["messages"] >= 2 * n and c["customer_messages"] == n for c in conversations(app_url)
                )
            )
        expect(customer.locator(BOT).last).not_to_contain_text("waiting for an answer")

        # Thumbs down on the first reply, in the chat.
        customer.get_by_role("button", name="Dislike").first.click()
        expect(customer.get_by_role("button", name="Disliked")).to_have_count(1)
        wait_until(lambda: conversations(app_url)[0]["feedback"] == {"up": 0, "down": 1}, timeout=30)

        admin.get_by_role("tab", name="Conversations").click()
        expect(admin.locator("#conv-list")).to_contain_text("Charlie question")
        admin.locator("#conv-chosen input").click()
        admin.get_by_role("option").first.click()
        transcript = admin.locator("#conv-transcript")
        expect(transcript).to_contain_text(QUESTIONS[2][:40])
        expect(transcript).to_contain_text("👎")

        # The inspector of the newest reply: the first turn was dropped, the newest question kept.
        admin.locator("#conv-reply input").click()
        admin.get_by_role("option").last.click()
        inspector = admin.locator("#conv-inspector")
        expect(inspector).to_contain_text("Dropped by the FIFO window")
        expect(inspector.locator("del").first).to_contain_text("Alpha question")
        expect(inspector).to_contain_text("Token budget for the conversation")
        kept = inspector.locator("li", has_text="Charlie question")
        expect(kept).to_have_count(1)
        assert kept.locator("del").count() == 0

        # Ratings per prompt version (these replies used the system prompt's seeded version 1), and the export.
        admin.get_by_text("Ratings per prompt version").click()
        expect(admin.locator("#conv-ratings")).to_contain_text("v1")
        admin.get_by_text("Export for fine-tuning (JSONL)").click()
        admin.locator("#conv-export-button").click()
        expect(admin.locator("#conv-export")).to_contain_text(".jsonl")
    finally:
        customer.context.close()
        admin.context.close()
