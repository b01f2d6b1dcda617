"""Browser end-to-end fixtures: the real app (`python app.py`) per test module, headless Chromium.

Chromium comes from the distribution (`apt-get install chromium`), not from `playwright install`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.server import running_app

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# How long a UI condition may take: one reply from the embedded model, or one upload and index.
UI_TIMEOUT_MS = 90_000
APP_ENV = {"FRONTDESK_ANSWER_TOKENS": "48"}  # short replies keep the turns fast


@pytest.fixture(scope="module")
def app_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of the module's app (tests read its database to check what was stored)."""
    data = tmp_path_factory.mktemp("e2e-app") / "data"
    data.mkdir()
    return data


@pytest.fixture(scope="module")
def app_url(app_data_dir: Path) -> Iterator[str]:
    """The real app on a free port, with its own data dir, shared by the tests of one module."""
    with running_app(app_data_dir, env=APP_ENV) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, per module: Playwright's sync API keeps its event loop no longer than needed."""
    if not CHROMIUM.exists():
        if os.environ.get("FRONTDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and scripts/test.sh requires it: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium chromium-driver`")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A page in a fresh browser context: its own cookies and localStorage, like a new visitor."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
