"""The human handoff round trip in two real browsers: the customer asks for a person in the chat,
an admin takes the conversation in the Inbox and replies, the reply appears in the customer's open
chat without a reload, the customer is told who joined and when they hand back or close, and the bot
answers the next message (issue 8). And the Inbox as a person at the desk uses it: a list row opens
its conversation, and the open transcript shows what the customer writes meanwhile without a click."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.stored import stored_conversation
from tests.e2e.test_admin_browser import log_in
from tests.e2e.test_chat_browser import BOT, USER, send
from web.admin_inbox import ID_PREFIX, REFRESH_S

pytestmark = pytest.mark.slow


def test_a_person_takes_over_replies_and_hands_back(browser, app_url: str) -> None:
    customer = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    admin = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    try:
        customer.goto(app_url)
        send(customer, "I want to talk to a human agent please.")
        expect(customer.locator(BOT).last).to_contain_text("person from the Northwind Goods support team")

        log_in(admin, app_url)
        admin.get_by_role("tab", name="Inbox").click()
        expect(admin.locator("#inbox-list")).to_contain_text("queued")
        admin.locator("#inbox-chosen input").click()
        admin.get_by_role("option").first.click()
        expect(admin.locator("#inbox-transcript")).to_contain_text("I want to talk to a human agent please.")
        # Taking it without a name is refused: the name is what tells the people at the desk apart.
        admin.locator("#inbox-take").click()
        expect(admin.get_by_text("Type your name").first).to_be_visible()
        expect(admin.locator("#inbox-state")).to_contain_text("queued")
        admin.locator("#inbox-agent textarea").fill("Ana")
        admin.locator("#inbox-take").click()
        expect(admin.locator("#inbox-state")).to_contain_text("held by Ana")
        # The customer is told who joined, without a reload.
        expect(customer.locator(BOT).last).to_contain_text(
            "Ana from our support team has joined the conversation.", timeout=15_000
        )

        admin.locator("#inbox-reply textarea").fill("Hi, this is Ana from support. How can I help?")
        admin.locator("#inbox-send").click()
        expect(admin.locator("#inbox-transcript")).to_contain_text("Support agent:")

        # The customer's open chat shows the person's reply without a reload.
        expect(customer.locator(BOT).last).to_contain_text("this is Ana from support", timeout=15_000)

        admin.locator("#inbox-release").click()
        expect(admin.locator("#inbox-state")).to_contain_text("bot")
        expect(customer.locator(BOT).last).to_contain_text(
            "Ana has handed this conversation back to our assistant", timeout=15_000
        )

        send(customer, "How many days do I have to return something?")
        expect(customer.locator(BOT).last).to_contain_text("Sources:")
    finally:
        customer.context.close()
        admin.context.close()


ASKED = "Could a person help me, please? My parcel never arrived."
LATER = "The tracking number is NW-4821, if that helps."
# A redraw of the open conversation: one timer period, and the time the customer's send takes to store.
REDRAW_MS = (REFRESH_S + 5) * 1000


def test_a_list_row_opens_its_conversation_and_new_messages_show_unasked(
    browser, app_url: str, app_data_dir: Path
) -> None:
    customer = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    admin = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    try:
        customer.goto(app_url)
        send(customer, ASKED)
        expect(customer.locator(BOT).last).to_contain_text("person from the Northwind Goods support team")
        session_id = stored_conversation(app_data_dir, ASKED)[0].session_id

        log_in(admin, app_url)
        admin.get_by_role("tab", name="Inbox").click()
        listing = admin.locator("#inbox-list")
        expect(listing).to_contain_text("since (UTC)")
        # Clicking the conversation's row (here its state) opens it: the dropdown names it by time
        # and id, and the transcript shows it.
        row = listing.get_by_role("row").filter(has_text=session_id)
        row.get_by_role("gridcell", name="queued").click()
        chosen = admin.locator("#inbox-chosen input")
        entry = rf"^queued · [A-Z][a-z]{{2}} \d\d \d\d:\d\d · {re.escape(session_id[:ID_PREFIX])} · "
        expect(chosen).to_have_value(re.compile(entry), timeout=15_000)
        transcript, state = admin.locator("#inbox-transcript"), admin.locator("#inbox-state")
        expect(transcript).to_contain_text(ASKED)

        # What the customer writes now shows in the open transcript without a click.
        send(customer, LATER)
        expect(customer.locator(USER).last).to_contain_text(LATER)
        expect(transcript).to_contain_text(LATER, timeout=REDRAW_MS)

        # The header says who holds it once, and a closed conversation is held by nobody.
        admin.locator("#inbox-agent textarea").fill("Dana")
        admin.locator("#inbox-take").click()
        expect(state).to_have_text(re.compile(r"^\s*human · held by Dana\s*$"))
        admin.locator("#inbox-close").click()
        expect(state).to_have_text(re.compile(r"^\s*closed · handled by Dana\s*$"))
        # The waiting list no longer shows it, yet dropdown, header and transcript still agree on it.
        admin.get_by_role("button", name="Refresh").click()
        expect(listing).not_to_contain_text(session_id)
        expect(chosen).to_have_value(re.compile(rf"^closed · .* · {re.escape(session_id[:ID_PREFIX])} · "))
        expect(state).to_contain_text("closed")
        expect(transcript).to_contain_text(LATER)

        # The customer is told it is closed; writing again starts a new conversation, which the
        # bot answers (and could hand to a person again), instead of a closed one that cannot.
        expect(customer.locator(BOT).last).to_contain_text(
            "Dana has closed this conversation", timeout=15_000
        )
        send(customer, "One more thing: how many days do I have to return something?")
        expect(customer.locator(BOT).last).to_contain_text("Sources:")
        expect(customer.locator(USER)).to_have_count(1)  # the new conversation holds only this message
        new = stored_conversation(
            app_data_dir, "One more thing: how many days do I have to return something?"
        )
        assert new[0].session_id != session_id
    finally:
        customer.context.close()
        admin.context.close()
