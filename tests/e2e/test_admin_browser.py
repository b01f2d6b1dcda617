"""The admin console at `/admin` in headless Chromium: login, then upload and index a document."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

ADMIN_AUTH = ("admin", "test-admin-pw")  # the password tests.utils.server.running_app sets
GIFT_WRAPPING = """# Gift Wrapping

Any item can be gift wrapped at checkout. We wrap every gift in our teal Aurora paper with a
silver ribbon, and gift wrapping costs $4.75 per item. A handwritten card is included for free.

## Gift Receipts

Gift-wrapped orders ship with a gift receipt that hides the prices.
"""
GIFT_WRAPPING_ID = "gift-wrapping"  # knowledge.loaders.document_id("gift-wrapping.md")


def log_in(page: Page, app_url: str, password: str = ADMIN_AUTH[1]) -> None:
    page.goto(f"{app_url}/admin/")
    page.get_by_label("username").fill(ADMIN_AUTH[0])
    page.get_by_label("password").fill(password)
    with page.expect_response(re.compile(r".*/admin/login/?$")):
        page.get_by_role("button", name="Login").click()


def test_admin_console_needs_the_login(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/admin/")
    expect(page.get_by_role("button", name="Login")).to_be_visible()
    expect(page.get_by_label("password")).to_be_visible()
    assert page.locator("#kb-upload, #kb-upload-button, #kb-documents").count() == 0

    # A wrong password is answered, and still shows no knowledge-base controls.
    log_in(page, app_url, password="not-the-password")
    expect(page.get_by_role("button", name="Login")).to_be_visible()
    assert page.locator("#kb-upload, #kb-upload-button, #kb-documents").count() == 0
    # Not only hidden: the console's config (its components) is refused without the login.
    assert httpx.get(f"{app_url}/admin/config", timeout=30).status_code == 401


def test_admin_uploads_a_document_that_answers_chat(page: Page, app_url: str, tmp_path: Path) -> None:
    document = tmp_path / "gift-wrapping.md"
    document.write_text(GIFT_WRAPPING)

    log_in(page, app_url)
    expect(page.locator("#kb-upload")).to_be_visible()
    expect(page.locator("#kb-documents")).to_contain_text("Returns Policy")  # the demo help center

    page.locator("#kb-upload input[type=file]").set_input_files(document)
    # The file is listed once Gradio has uploaded it to the server.
    expect(page.locator('#kb-upload td.filename[aria-label="gift-wrapping.md"]')).to_be_visible()
    page.locator("#kb-upload-button").click()

    status = page.locator("#kb-status textarea")
    expect(status).to_have_value(re.compile(r"gift-wrapping\.md: added, \d+ chunks"))
    chunks = int(re.search(r"added, (\d+) chunks", status.input_value()).group(1))
    assert chunks >= 1
    table = page.locator("#kb-documents")
    expect(table).to_contain_text("Gift Wrapping")
    expect(table).to_contain_text(GIFT_WRAPPING_ID)

    # The REST API sees the same document ...
    response = httpx.get(f"{app_url}/api/v1/admin/documents", auth=ADMIN_AUTH, timeout=30)
    assert response.status_code == 200, response.text
    docs = {d["id"]: d for d in response.json()["documents"]}
    assert docs[GIFT_WRAPPING_ID]["title"] == "Gift Wrapping"
    assert docs[GIFT_WRAPPING_ID]["chunks"] == chunks

    # ... and the agent cites it for a question only it answers.
    response = httpx.post(
        f"{app_url}/api/v1/chat",
        json={"message": "What colour is the gift wrapping paper, and how much does gift wrapping cost?"},
        timeout=180,
    )
    assert response.status_code == 200, response.text
    cited = [c["document"] for c in response.json()["citations"]]
    assert GIFT_WRAPPING_ID in cited, cited


def test_indexed_files_leave_the_picker_and_a_confirmed_delete_stays_deleted(
    page: Page, app_url: str, tmp_path: Path
) -> None:
    document = tmp_path / "store-hours.md"
    document.write_text("# Store Hours\n\nOur Portland store opens at 9:30 a.m. every day but Sunday.\n")
    listed = page.locator('#kb-upload td.filename[aria-label="store-hours.md"]')

    log_in(page, app_url)
    page.locator("#kb-upload input[type=file]").set_input_files(document)
    expect(listed).to_be_visible()
    page.locator("#kb-upload-button").click()
    status = page.locator("#kb-status textarea")
    expect(status).to_have_value(re.compile(r"store-hours\.md: added"))
    # Indexed files leave the picker ...
    expect(listed).to_have_count(0)

    # Delete asks first: dismissed, nothing is deleted; accepted, the document is gone.
    asked: list[str] = []
    answers = iter([False, True])

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", answer)
    for expected in ("Nothing deleted: store-hours is still in the knowledge base.", "Deleted store-hours."):
        page.locator("#kb-chosen input").click()
        page.get_by_role("option", name="Store Hours (store-hours)").click()
        page.get_by_role("button", name="Delete").click()
        expect(status).to_have_value(expected)
    assert len(asked) == 2 and "Delete store-hours" in asked[0]
    expect(page.locator("#kb-documents")).not_to_contain_text("Store Hours")

    # ... so another click indexes nothing, and the deleted document does not come back.
    page.locator("#kb-upload-button").click()
    expect(status).to_have_value("No file chosen.")
    response = httpx.get(f"{app_url}/api/v1/admin/documents", auth=ADMIN_AUTH, timeout=30)
    assert "store-hours" not in {d["id"] for d in response.json()["documents"]}


def test_admin_creates_a_channel_whose_secret_signs_a_webhook(page: Page, app_url: str) -> None:
    from examples.webhook_client import send_message

    log_in(page, app_url)
    page.get_by_role("tab", name="Integrations").click()
    page.locator("#channel-name textarea, #channel-name input").first.fill("website")
    page.locator("#channel-create").click()
    result = page.locator("#integrations-result")
    expect(result).to_contain_text("shown once")
    secret = re.search(r"whsec_[A-Za-z0-9_-]+", result.inner_text()).group(0)

    # The secret shown once is the one the webhook checks: a signed message is answered.
    status, reply = send_message(
        app_url, "website", secret, "How do I reset my password?", conversation_id="c1", user_id="u1"
    )
    assert status == 200, reply
    assert reply["reply"].strip() and reply["session_id"]
    listed = httpx.get(f"{app_url}/api/v1/admin/channels", auth=ADMIN_AUTH, timeout=30).json()["channels"]
    assert [c["name"] for c in listed] == ["website"] and "secret" not in listed[0]
