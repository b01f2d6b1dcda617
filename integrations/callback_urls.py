"""The SSRF guard for callback URLs: http(s) only, and a host that resolves to public addresses only
(private, loopback, link-local and other special ranges are refused unless explicitly allowed)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

MAX_URL_CHARS = 2000


class CallbackUrlError(ValueError):
    """A callback URL that may not be used; the message says why."""


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackUrlError(f"The callback host {host!r} does not resolve.") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


@dataclass(frozen=True)
class PinnedTarget:
    """Where one delivery connects: the URL with the checked address in place of the host name, and
    the Host header and TLS server name of the original, so DNS cannot change between check and use."""

    url: str
    host_header: str
    server_name: str | None


def pin_callback_url(url: str, *, allow_private: bool) -> PinnedTarget:
    """Check `url` (as `check_callback_url`) and pin it to the first address the check accepted."""
    check_callback_url(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # IPv4 first: a name like "localhost" resolves to ::1 as well, where a receiver may not listen.
    address = sorted(_addresses(host, port), key=lambda a: a.version)[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return PinnedTarget(
        url=urlunsplit(parts._replace(netloc=netloc)),
        host_header=parts.netloc.rpartition("@")[2],
        server_name=host if parts.scheme == "https" else None,
    )


def check_callback_url(url: str, *, allow_private: bool) -> str:
    """Return `url` if callbacks may go there; CallbackUrlError otherwise.

    Every address the host resolves to must be public: a name with one private address among
    public ones is refused, since the connection might use that one.
    """
    if len(url) > MAX_URL_CHARS:
        raise CallbackUrlError(f"The callback URL is over {MAX_URL_CHARS} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise CallbackUrlError(f"The callback URL is not a valid URL: {exc}.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackUrlError("The callback URL must be an http:// or https:// URL with a host.")
    if parts.username or parts.password:
        raise CallbackUrlError("The callback URL must not carry a user name or password.")
    if allow_private:
        return url
    for address in _addresses(parts.hostname, port):
        if not address.is_global or address.is_multicast:
            raise CallbackUrlError(
                f"The callback host {parts.hostname!r} resolves to {address}, a private, loopback or "
                "reserved address; set FRONTDESK_ALLOW_PRIVATE_CALLBACKS=true to allow it."
            )
    return url
