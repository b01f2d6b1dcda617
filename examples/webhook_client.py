"""Send one signed message to a Frontdesk channel, standard library only (no Frontdesk imports).

    python examples/webhook_client.py http://127.0.0.1:7860 my-channel "$SECRET" "Where is my order?"

Prints the answer: the reply itself (200), or the acknowledgement (202) when a callback URL is given,
in which case the reply is POSTed there (see callback_receiver.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """`Frontdesk-Signature`: t=<unix seconds>,v1=hex(HMAC-SHA256(secret, "<t>." + body))."""
    t = int(time.time()) if timestamp is None else timestamp
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def send_message(
    base_url: str,
    channel: str,
    secret: str,
    text: str,
    *,
    conversation_id: str,
    user_id: str,
    event_id: str | None = None,
    callback_url: str | None = None,
    timeout: float = 120.0,
) -> tuple[int, dict]:
    """POST one event; returns (HTTP status, JSON body). Retry with the same event_id: it runs once."""
    event = {
        "event_id": event_id or str(uuid.uuid4()),
        "conversation_id": conversation_id,
        "user": {"id": user_id},
        "text": text,
    }
    if callback_url:
        event["callback_url"] = callback_url
    body = json.dumps(event).encode()
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/api/v1/webhooks/{channel}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Frontdesk-Signature": signature_header(secret, body)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


if __name__ == "__main__":
    base, channel_name, channel_secret, message = sys.argv[1:5]
    status, answer = send_message(
        base, channel_name, channel_secret, message, conversation_id="cli-demo", user_id="cli-user"
    )
    print(status, json.dumps(answer, indent=2))
