"""The chat across a server crash and restart on the same data dir: the browser's conversation is
still there, and messages that were not answered are shown as such (then answered when they can be)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import APP_ENV
from tests.e2e.stored import stored_conversation, wait_for_statuses
from tests.e2e.test_chat_browser import BOT, USER, send, wait_for_final_reply
from tests.utils.server import free_port, running_app_process
from web.chat_ui import BROWSER_STATE_KEY
from web.chat_view import WAITING

pytestmark = pytest.mark.slow

QUESTION = "How long do refunds take to arrive?"
# Far over the small context below, though within the message length limit: the turn fails.
TOO_LONG = " ".join(f"order NW-{n:05d} arrived damaged;" for n in range(300))[:3900]
LAST = "Do you ship to Canada?"
# A small context makes the too-long message fail; short questions still fit.
ENV = {**APP_ENV, "FRONTDESK_CONTEXT_TOKENS": "768"}


def browser_state_key(config: dict) -> str | None:
    for component in config["components"]:
        if component.get("type") == "browserstate":
            return component["props"].get("secret")
    return None


def test_the_conversation_survives_a_restart_with_unanswered_messages_shown(
    page: Page, data_dir: Path
) -> None:
    context = page.context
    data = data_dir  # this test's own, empty data dir (tests/conftest.py)
    port = free_port()
    with running_app_process(data, env=ENV, port=port) as (base, process):
        page.goto(f"{base}/")
        send(page, QUESTION)
        answer = wait_for_final_reply(page)

        # A turn that fails leaves the message on screen with a short notice.
        send(page, TOO_LONG)
        expect(page.locator(BOT).nth(1)).to_contain_text("saved but not answered")
        expect(page.locator(BOT).nth(1)).to_contain_text("too long")

        # The server dies while a message waits for its answer.
        send(page, LAST)
        expect(page.locator(USER)).to_have_count(3)
        config = httpx.get(f"{base}/config", timeout=30)
        assert config.status_code == 200, config.text
        process.kill()
        process.wait()

    stored = stored_conversation(data, QUESTION)
    users = [m for m in stored if m.role == "user"]
    assert [m.content for m in users] == [QUESTION, TOO_LONG, LAST]
    assert [m.status for m in users][:2] == ["answered", "failed"]
    # The page config gives away no secret: no visitor's ids, no admin password. The browser
    # state's key is in it (Gradio encrypts in the browser), so it is a fixed, public one.
    assert stored[0].session_id not in config.text
    assert "test-admin-pw" not in config.text

    with running_app_process(data, env=ENV, port=port) as (base, _):
        # The customer opens the chat again in the same browser. A fresh tab, not a reload of the
        # old one: that tab's client may be navigating or reconnecting after the crash, and a
        # reload then aborts (net::ERR_ABORTED), which says nothing about the app.
        page.close()
        page = context.new_page()
        page.goto(f"{base}/")
        expect(page.locator(USER)).to_have_count(3)
        bots = page.locator(BOT)
        expect(bots.nth(0)).to_have_text(answer)
        expect(bots.nth(1)).to_contain_text("saved but not answered")
        if users[2].status == "pending":
            # Cut off by the crash: shown as waiting, then answered once the dead worker's lease ends.
            expect(bots.nth(2)).to_contain_text(WAITING)
        wait_for_statuses(data, QUESTION, ["answered", "failed", "answered"])
        last_reply = stored_conversation(data, QUESTION)[-1]
        assert last_reply.is_final_reply and last_reply.reply_to == users[2].id
        expect(bots).to_have_count(3)
        for word in re.findall(r"\w+", last_reply.content)[:5]:
            expect(bots.nth(2)).to_contain_text(word)
        # The same key after the restart: that is what let the browser read its state back.
        restarted_config = httpx.get(f"{base}/config", timeout=30).json()
    assert browser_state_key(config.json()) == browser_state_key(restarted_config) == BROWSER_STATE_KEY
