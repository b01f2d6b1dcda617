"""Admin console logins expire: after FRONTDESK_ADMIN_SESSION_MINUTES the console's cookie no longer
opens it, and a fresh login does; the REST API (HTTP Basic) is unaffected."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import ADMIN


def test_a_console_login_expires_after_its_lifetime(make_client, monkeypatch: pytest.MonkeyPatch) -> None:
    import web.admin_sessions as sessions

    client: TestClient = make_client(demo_data=False, admin_session_minutes=30)
    assert client.get("/admin/config").status_code == 401
    assert client.post("/admin/login", data={"username": "admin", "password": ADMIN[1]}).status_code == 200
    assert client.get("/admin/config").status_code == 200

    later = sessions._now() + 29 * 60
    monkeypatch.setattr(sessions, "_now", lambda: later)
    assert client.get("/admin/config").status_code == 200
    monkeypatch.setattr(sessions, "_now", lambda: later + 2 * 60)
    assert client.get("/admin/config").status_code == 401
    assert client.get("/api/v1/admin/conversations", auth=ADMIN).status_code == 200

    assert client.post("/admin/login", data={"username": "admin", "password": ADMIN[1]}).status_code == 200
    assert client.get("/admin/config").status_code == 200
