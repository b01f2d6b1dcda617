"""The HTTP surface of the real app in-process: error shapes outside the REST routes, security
headers, CORS, redirects, Gradio uploads and their cache, the offline /docs and its spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from app import build_services
from settings import Settings
from storage.models import ChatSession
from tests.integration.conftest import ADMIN
from web.server import create_app

UPLOAD_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("surface") / "data",
        admin_password=ADMIN[1],
        answer_tokens=48,
        demo_data=False,
        max_upload_bytes=UPLOAD_LIMIT,
    )


@pytest.fixture(scope="module")
def client(embedder, app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(build_services(app_settings, embedder=embedder))) as client:
        yield client


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def session_count(settings: Settings) -> int:
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ChatSession)).scalar_one()


# -- 13: rejected messages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"message": "\\ud800 hi"}',
        b'{"message": "hi \\udfff"}',
        b'{"message": "\\udc00\\ud800"}',
        b'{"message": ""}',
        b'{"message": "hi\\u0000"}',
        b'{"message": 5}',
    ],
)
def test_a_rejected_message_is_a_422_and_leaves_no_session(
    client: TestClient, app_settings: Settings, raw: bytes
) -> None:
    before = session_count(app_settings)
    response = client.post("/api/v1/chat", content=raw, headers={"content-type": "application/json"})
    assert_error(response, 422)
    assert session_count(app_settings) == before


def test_a_lone_surrogate_is_named_as_invalid_characters(client: TestClient) -> None:
    response = client.post(
        "/api/v1/chat", content=b'{"message": "\\ud800 hi"}', headers={"content-type": "application/json"}
    )
    assert_error(response, 422, "invalid_characters")


# -- 14: one error shape, /admin ---------------------------------------------------------------------


def test_admin_without_the_slash_redirects(client: TestClient) -> None:
    response = client.get("/admin", follow_redirects=False)
    assert response.status_code in (301, 302, 307, 308)
    assert response.headers["location"].endswith("/admin/")
    assert client.get("/admin").status_code == 200


@pytest.mark.parametrize("path", ["/nothing-here", "/static/nothing.js", "/admin/nothing-here"])
def test_unknown_pages_outside_the_api_are_json_404s(client: TestClient, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/chat", "POST"),
        ("GET", "/api/v1/chat", "POST"),
        ("POST", "/api/v1/sessions/abc/messages", "GET"),
        ("PATCH", "/api/v1/admin/documents/x", "DELETE"),
    ],
)
def test_a_wrong_method_on_a_real_route_is_a_405(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, auth=ADMIN)
    assert_error(response, 405, "method_not_allowed")
    assert allowed in response.headers["allow"]


def test_unknown_api_paths_stay_404(client: TestClient) -> None:
    assert_error(client.put("/api/v1/nothing"), 404, "not_found")


def test_gradio_errors_use_the_one_shape(client: TestClient) -> None:
    # The admin console's own API without a login: Gradio's 401, reshaped, keeping Gradio's detail.
    response = client.get("/admin/config")
    error = assert_error(response, 401, "unauthorized")
    assert error["message"]
    assert "auth_message" in response.json()["detail"]
    wrong = client.post("/admin/login", data={"username": "admin", "password": "nope"})
    assert_error(wrong, 400)


def test_an_unparsable_multipart_body_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/admin/documents",
        auth=ADMIN,
        content=b"--b\r\nnot a part",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert_error(response, 422, "invalid_request")


def test_a_non_utf8_json_body_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/chat", content=b'{"message": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert_error(response, 422)


def test_a_body_that_is_not_json_gets_an_error_that_says_what_to_send(client: TestClient) -> None:
    broken = client.post(
        "/api/v1/chat", content=b'{"message": "hi",}', headers={"content-type": "application/json"}
    )
    assert "the body is not valid JSON" in assert_error(broken, 422, "invalid_request")["message"]
    as_text = client.post("/api/v1/chat", content=b"hi there", headers={"content-type": "text/plain"})
    as_form = client.post("/api/v1/chat", data={"message": "hi there"})
    for response in (as_text, as_form):
        error = assert_error(response, 422, "invalid_request")
        assert "Content-Type: application/json" in error["message"], error


# -- 12: security headers and CORS -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/admin/", "/docs", "/healthz", "/api/v1/sessions/x/messages"])
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_api_answers_get_the_strict_policy(client: TestClient) -> None:
    assert client.get("/healthz").headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("path", ["/api/v1/chat", "/gradio_api/queue/join", "/admin/login"])
def test_a_preflight_from_an_unknown_origin_gets_no_credentials(client: TestClient, path: str) -> None:
    response = client.options(
        path,
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers.get("access-control-allow-origin") in (None, "")
    assert response.status_code >= 400
    assert "error" in response.json()


# -- 9: uploads and Gradio's file cache ----------------------------------------------------------------


def gradio_upload_dir(settings: Settings) -> Path:
    return (settings.data_dir / "gradio").resolve()


@pytest.mark.parametrize("path", ["/gradio_api/upload", "/gradio_api/process_recording"])
def test_the_chat_refuses_uploads_and_writes_nothing(
    client: TestClient, app_settings: Settings, path: str
) -> None:
    before = sorted(gradio_upload_dir(app_settings).rglob("*"))
    response = client.post(path, files={"files": ("a.txt", b"hello" * 1000)})
    assert_error(response, 403, "uploads_refused")
    assert sorted(gradio_upload_dir(app_settings).rglob("*")) == before


def test_admin_console_uploads_need_the_login(client: TestClient) -> None:
    response = client.post("/admin/gradio_api/upload", files={"files": ("a.md", b"# A\n\ntext")})
    assert_error(response, 401, "unauthorized")


def test_admin_console_uploads_are_capped_kept_in_the_data_dir_and_deleted_at_shutdown(
    embedder, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", admin_password=ADMIN[1], demo_data=False, max_upload_bytes=UPLOAD_LIMIT
    )
    with TestClient(create_app(build_services(settings, embedder=embedder))) as client:
        assert (
            client.post("/admin/login", data={"username": "admin", "password": ADMIN[1]}).status_code == 200
        )
        ok = client.post("/admin/gradio_api/upload", files={"files": ("a.md", b"# A\n\nsome text")})
        assert ok.status_code == 200, ok.text
        stored = Path(ok.json()[0])
        assert stored.is_file() and stored.is_relative_to(gradio_upload_dir(settings))

        too_big = client.post(
            "/admin/gradio_api/upload", files={"files": ("b.md", b"x" * (UPLOAD_LIMIT + 1024))}
        )
        assert_error(too_big, 413)
        head = b'--b\r\nContent-Disposition: form-data; name="files"; filename="c.md"\r\n\r\n'
        chunked_too_big = client.post(
            "/admin/gradio_api/upload",
            content=iter([head, *[b"x" * 65536] * 4, b"\r\n--b--\r\n"]),  # no length: chunked
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert_error(chunked_too_big, 413, "request_too_large")
    # Gradio's cache expiry is on for the admin console: its files go when the server stops.
    assert not stored.exists()


# -- 15: offline /docs and a true spec -------------------------------------------------------------


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "cdn." not in page and "https://" not in page.split("<body>")[0]
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"):
        assert asset in page
        assert client.get(asset).status_code == 200


def test_the_spec_describes_responses_and_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    chat = spec["paths"]["/api/v1/chat"]["post"]
    ok = chat["responses"]["200"]["content"]
    assert ok["application/json"]["schema"]["$ref"].endswith("/ChatReply")
    assert "text/event-stream" in ok
    for event in ("token", "tool", "error", "done"):
        assert f"event: {event}" in chat["description"] or f"`{event}`" in chat["description"]
    for status in ("404", "413", "422", "503"):
        ref = chat["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert "HTTPValidationError" not in ref
    assert "HTTPValidationError" not in json.dumps(spec)
    assert {"ChatReply", "History", "Health", "DocumentList", "IngestResult", "ErrorBody"} <= set(schemas)
    history = spec["paths"]["/api/v1/sessions/{session_id}/messages"]["get"]
    assert history["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/History")
    upload = spec["paths"]["/api/v1/admin/documents"]["post"]
    assert {"401", "409", "413", "415", "422", "429"} <= set(upload["responses"])
    assert spec["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("/Health")
