"""The pages still work under the security headers: the chat, the admin login and the offline /docs
render in headless Chromium with no Content-Security-Policy violation and no request off the host."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

RECORD_VIOLATIONS = """() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
        `${e.effectiveDirective} ${e.blockedURI}`));
}"""


def watch(page: Page, app_url: str) -> list[str]:
    """Records CSP violations and requests to other hosts; returns the list it fills."""
    problems: list[str] = []
    host = urlsplit(app_url).netloc
    page.add_init_script(f"({RECORD_VIOLATIONS})()")
    page.on(
        "request",
        lambda r: (
            problems.append(f"off-host request {r.url}")
            if r.url.startswith("http") and urlsplit(r.url).netloc != host
            else None
        ),
    )
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    return problems


def violations(page: Page, problems: list[str]) -> list[str]:
    return problems + page.evaluate("window.__cspViolations || []")


def test_the_chat_page_renders_under_the_csp(page: Page, app_url: str) -> None:
    problems = watch(page, app_url)
    response = page.goto(f"{app_url}/")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.locator("#message textarea")).to_be_visible()
    expect(page.locator("#new-conversation")).to_be_visible()
    # The chat polls for a person's replies (a gr.Timer), so its network is never idle: wait for
    # the page's load, then long enough for a few polls to have run under the policy.
    page.wait_for_load_state("load")
    page.wait_for_timeout(7_000)
    assert violations(page, problems) == []


def test_the_admin_login_renders_under_the_csp(page: Page, app_url: str) -> None:
    problems = watch(page, app_url)
    page.goto(f"{app_url}/admin")  # no trailing slash: redirected
    expect(page.get_by_role("button", name="Login")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert violations(page, problems) == []


def test_the_docs_render_offline(page: Page, app_url: str) -> None:
    problems = watch(page, app_url)
    page.goto(f"{app_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Frontdesk")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/chat").first).to_be_visible()
    assert violations(page, problems) == []
