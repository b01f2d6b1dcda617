"""Request-body caps on the real server (`python app.py`), with chunked bodies sent over raw sockets:
the 413 comes while the body is still arriving, and admin logins are checked before any body is read."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import ADMIN
from tests.utils.raw_http import send_chunked
from tests.utils.server import running_app

pytestmark = pytest.mark.slow

UPLOAD_LIMIT = 1024 * 1024
FILLER = b"x" * 65536
# Far more than any cap below: a server that reads the whole body never answers within it.
NEVER_READ_THIS_MUCH = 64 * 1024 * 1024
# What the sender may have pushed past the cap before it sees the answer: the kernel's socket
# buffers on both ends (loopback TCP autotunes them to several MiB).
IN_FLIGHT = 16 * 1024 * 1024
BOUNDARY = "frontdesk-test-boundary"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("limits") / "data"
    data.mkdir()
    env = {"FRONTDESK_DEMO_DATA": "false", "FRONTDESK_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)}
    with running_app(data, env=env) as base:
        yield base


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def multipart_head(filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/markdown\r\n\r\n# Big\n\n"
    ).encode()


def assert_json_error(status: int, body: bytes, code: str) -> None:
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"], error


def test_a_chunked_json_body_is_cut_off_at_the_cap(app_url: str) -> None:
    answer = send_chunked(
        app_url,
        "/api/v1/chat",
        headers={"Content-Type": "application/json"},
        prefix=b'{"message": "',
        filler=FILLER,
        max_bytes=NEVER_READ_THIS_MUCH,
    )
    assert answer is not None, "the server read the whole chunked body without answering"
    assert answer.status == 413
    assert_json_error(answer.status, answer.body, "request_too_large")
    assert answer.bytes_sent < 256 * 1024 + IN_FLIGHT
    assert httpx.get(f"{app_url}/healthz").status_code == 200


def test_a_chunked_admin_upload_is_cut_off_at_the_upload_cap(app_url: str) -> None:
    answer = send_chunked(
        app_url,
        "/api/v1/admin/documents",
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Authorization": basic(*ADMIN),
        },
        prefix=multipart_head("big.md"),
        filler=FILLER,
        max_bytes=NEVER_READ_THIS_MUCH,
    )
    assert answer is not None, "the server read the whole chunked upload without answering"
    assert answer.status == 413
    assert_json_error(answer.status, answer.body, "request_too_large")
    assert answer.bytes_sent < UPLOAD_LIMIT + IN_FLIGHT


@pytest.mark.parametrize("authorization", [None, basic("admin", "wrong-password")])
def test_an_admin_upload_without_a_valid_login_is_refused_before_its_body_is_read(
    app_url: str, authorization: str | None
) -> None:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if authorization:
        headers["Authorization"] = authorization
    answer = send_chunked(
        app_url,
        "/api/v1/admin/documents",
        headers=headers,
        prefix=multipart_head("big.md"),
        filler=FILLER,
        max_bytes=NEVER_READ_THIS_MUCH,
    )
    assert answer is not None
    assert answer.status == 401
    assert answer.headers["www-authenticate"] == "Basic"
    assert_json_error(answer.status, answer.body, "unauthorized")
    assert answer.bytes_sent < IN_FLIGHT


def test_a_chunked_upload_to_the_admin_console_is_cut_off_too(app_url: str) -> None:
    answer = send_chunked(
        app_url,
        "/admin/gradio_api/upload",
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        prefix=multipart_head("big.md"),
        filler=FILLER,
        max_bytes=NEVER_READ_THIS_MUCH,
    )
    assert answer is not None
    # Not logged in: Gradio refuses; either way nothing near the whole body was read.
    assert answer.status in (401, 413)
    assert json.loads(answer.body)["error"]["code"] in ("unauthorized", "request_too_large")
    assert answer.bytes_sent < UPLOAD_LIMIT + IN_FLIGHT


def test_the_chat_refuses_uploads(app_url: str) -> None:
    response = httpx.post(f"{app_url}/gradio_api/upload", files={"files": ("a.txt", b"hello")})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "uploads_refused"
