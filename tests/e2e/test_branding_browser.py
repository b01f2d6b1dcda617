"""The chat speaks for the configured company, not the demo's, when the demo data is off."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import APP_ENV
from tests.e2e.test_admin_browser import ADMIN_AUTH, GIFT_WRAPPING
from tests.e2e.test_chat_browser import BOT, send
from tests.utils.server import running_app

pytestmark = pytest.mark.slow

COMPANY = "Acme Tools"


@pytest.fixture(scope="module")
def own_app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with the demo data off and its own single document."""
    data = tmp_path_factory.mktemp("e2e-own") / "data"
    data.mkdir()
    env = {**APP_ENV, "FRONTDESK_DEMO_DATA": "false", "FRONTDESK_COMPANY_NAME": COMPANY}
    with running_app(data, env=env) as base:
        response = httpx.post(
            f"{base}/api/v1/admin/documents",
            files={"file": ("gift-wrapping.md", GIFT_WRAPPING.encode(), "text/markdown")},
            auth=ADMIN_AUTH,
            timeout=120,
        )
        assert response.status_code in (200, 201), response.text
        yield base


def test_the_page_and_the_no_answer_reply_name_the_configured_company(page: Page, own_app_url: str) -> None:
    page.goto(f"{own_app_url}/")
    expect(page).to_have_title(f"{COMPANY} support")
    expect(page.get_by_role("heading", name=f"{COMPANY} support")).to_be_visible()
    expect(page.locator("#chat")).to_contain_text("Ask a question")
    assert "Northwind" not in page.content()

    send(page, "What is the capital of France?")
    reply = page.locator(BOT).last
    expect(reply).to_contain_text(f"the {COMPANY} help center")
    text = reply.inner_text()
    assert "Northwind" not in text
    # No topic list is made up for a help center whose topics were not configured.
    assert "ask me about" not in text
