"""Raw HTTP/1.1 over a socket, for what HTTP clients hide: chunked bodies sent slowly, and when the
server answers relative to how much of the body it has been sent."""

from __future__ import annotations

import select
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    bytes_sent: int = field(default=0)  # body bytes sent before the answer arrived


def _read_response(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            lengths = [
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            if lengths and len(body) >= lengths[0]:
                break
    return data


def _parse(data: bytes, sent: int) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return RawResponse(int(lines[0].split()[1]), headers, body, sent)


def send_chunked(
    base_url: str,
    path: str,
    *,
    headers: dict[str, str],
    prefix: bytes,
    filler: bytes,
    max_bytes: int,
    method: str = "POST",
    timeout: float = 30.0,
) -> RawResponse | None:
    """Send `prefix`, then `filler` chunks (Transfer-Encoding: chunked) until the server answers.

    Returns the answer and how many body bytes had gone out by then, or None when `max_bytes` were
    sent without an answer (a server that reads the whole body before answering).
    """
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: {url.netloc}\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        sent = 0
        body = prefix
        while sent < max_bytes:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                return _parse(_read_response(sock, timeout), sent)
            try:
                sock.sendall(f"{len(body):x}\r\n".encode() + body + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(body)
            body = filler
        # Everything sent (or the server closed): give it a moment to answer, then read.
        readable, _, _ = select.select([sock], [], [], 5 if sent < max_bytes else 2)
        if readable:
            data = _read_response(sock, timeout)
            if data:
                return _parse(data, sent)
        return None
