"""The outbox: signed callbacks stored before they are sent, delivered by a worker that retries with
capped exponential backoff and jitter, survives restarts, and gives up after a set number of tries.

Replies enter the outbox in the same transaction as the reply itself (a mapper hook on `Message`):
a stored reply to a webhook event with a callback URL, or a person's reply or the notice of their
move (handoff/notices.py) in a conversation that came from a channel, always has its delivery row,
and a delivery row always has its reply.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Connection, CursorResult, Engine, event, insert, or_, select, update
from sqlalchemy.orm import Mapper, sessionmaker
from tenacity import RetryCallState, wait_exponential_jitter

from handoff import PERSON_STATES
from handoff.notices import NOTICE_ROLE
from integrations.callback_urls import CallbackUrlError, pin_callback_url
from integrations.channels import ChannelRegistry
from integrations.signing import SIGNATURE_HEADER, sign
from storage.integration_models import Channel, ChannelConversation, OutboxDelivery, WebhookEvent
from storage.models import ChatSession, Message, as_utc

log = logging.getLogger(__name__)
USER_AGENT = "Frontdesk-Webhooks/1"


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: str
    channel: str
    kind: str
    url: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "channel": self.channel,
            "kind": self.kind,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


# -- rows written with the reply ----------------------------------------------------------------


def _reply_payload(connection: Connection, message: Message) -> tuple[int, str | None, dict[str, Any]] | None:
    """(channel id, URL, payload) when this new message must go to a callback, else None."""
    in_reply_to: str | None = None
    if message.role == "assistant" and not message.tool_calls and message.reply_to is not None:
        event_row = connection.execute(
            select(
                WebhookEvent.channel_id,
                WebhookEvent.callback_url,
                WebhookEvent.conversation_id,
                WebhookEvent.event_id,
            )
            .where(WebhookEvent.message_id == message.reply_to, WebhookEvent.callback_url.is_not(None))
            .limit(1)
        ).first()
        if event_row is None:
            return None
        channel_id, url, conversation_id, in_reply_to = event_row
        kind = "reply"
    elif message.role in ("human_agent", NOTICE_ROLE):
        conversation = connection.execute(
            select(
                ChannelConversation.channel_id,
                ChannelConversation.callback_url,
                ChannelConversation.conversation_id,
            ).where(
                ChannelConversation.session_id == message.session_id,
                ChannelConversation.callback_url.is_not(None),
            )
        ).first()
        if conversation is None:
            return None
        channel_id, url, conversation_id = conversation
        kind = "human_reply" if message.role == "human_agent" else "notice"
    else:
        return None
    channel_name = connection.scalar(select(Channel.name).where(Channel.id == channel_id))
    state = connection.scalar(select(ChatSession.state).where(ChatSession.id == message.session_id)) or "bot"
    payload: dict[str, Any] = {
        "type": kind,
        "channel": channel_name,
        "conversation_id": conversation_id,
        "in_reply_to": in_reply_to,
        "session_id": message.session_id,
        "message_id": message.id,
        "text": message.content,
        "citations": message.citations or [],
        "state": state,
        "handoff": state in PERSON_STATES,
    }
    return channel_id, url, payload


def _enqueue_reply(_mapper: Mapper, connection: Connection, message: Message) -> None:
    found = _reply_payload(connection, message)
    if found is None:
        return
    channel_id, url, payload = found
    if url is None:  # pragma: no cover - both queries only match rows with a callback URL
        return
    event_id = new_event_id()
    now = datetime.now(UTC)
    connection.execute(
        insert(OutboxDelivery).values(
            event_id=event_id,
            channel_id=channel_id,
            session_id=message.session_id,
            kind=payload["type"],
            url=url,
            payload={"event_id": event_id, **payload},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
        )
    )


def install_reply_hook() -> None:
    """Write the outbox row of every callback-bound reply in the reply's own transaction (once per process)."""
    if not event.contains(Message, "after_insert", _enqueue_reply):
        event.listen(Message, "after_insert", _enqueue_reply)


# -- delivery -----------------------------------------------------------------------------------


class Outbox:
    """Stores and delivers signed callbacks; `start()` runs the worker thread, `stop()` ends it."""

    def __init__(
        self,
        engine: Engine,
        *,
        channels: ChannelRegistry,
        max_attempts: int = 8,
        timeout_s: float = 10.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 300.0,
        poll_s: float = 0.5,
        workers: int = 4,
    ) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.channels = channels
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.workers = workers
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        install_reply_hook()

    # -- writing --------------------------------------------------------------------------------

    def enqueue(
        self, *, channel_id: int, session_id: str | None, kind: str, url: str, payload: dict[str, Any]
    ) -> str:
        """Store one delivery (its own transaction); returns its event id."""
        event_id = new_event_id()
        with self._sessions.begin() as db:
            db.add(
                OutboxDelivery(
                    event_id=event_id,
                    channel_id=channel_id,
                    session_id=session_id,
                    kind=kind,
                    url=url,
                    payload={"event_id": event_id, **payload},
                    next_attempt_at=datetime.now(UTC),
                )
            )
        self._wake.set()
        return event_id

    # -- the worker -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)
            self._thread = None

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="outbox-send") as pool:
            while not self._stop.is_set():
                try:
                    due = self._claim_due(limit=self.workers * 2)
                    list(pool.map(self._deliver, due))
                except Exception:
                    log.exception("The outbox worker failed a pass; it goes on")
                    due = []
                if not due:
                    self._wake.wait(self.poll_s)
                    self._wake.clear()

    def deliver_due(self) -> int:
        """One pass in the calling thread: deliver what is due now; returns how many were tried."""
        due = self._claim_due(limit=100)
        for row_id in due:
            self._deliver(row_id)
        return len(due)

    def _claim_due(self, *, limit: int) -> list[int]:
        now = datetime.now(UTC)
        with self._sessions.begin() as db:
            candidates = list(
                db.scalars(
                    select(OutboxDelivery.id)
                    .where(
                        OutboxDelivery.status == "pending",
                        OutboxDelivery.next_attempt_at <= now,
                        or_(OutboxDelivery.claimed_until.is_(None), OutboxDelivery.claimed_until < now),
                    )
                    .order_by(OutboxDelivery.next_attempt_at, OutboxDelivery.id)
                    .limit(limit)
                )
            )
        claimed = []
        hold = now + timedelta(seconds=self.timeout_s + 30)
        for row_id in candidates:
            with self._sessions.begin() as db:
                taken = cast(
                    "CursorResult[Any]",
                    db.execute(
                        update(OutboxDelivery)
                        .where(
                            OutboxDelivery.id == row_id,
                            OutboxDelivery.status == "pending",
                            or_(OutboxDelivery.claimed_until.is_(None), OutboxDelivery.claimed_until < now),
                        )
                        .values(claimed_until=hold)
                    ),
                ).rowcount
            if taken == 1:
                claimed.append(row_id)
        return claimed

    def _deliver(self, row_id: int) -> None:
        with self._sessions() as db:
            row = db.get(OutboxDelivery, row_id)
            if row is None:
                return
            url, payload, channel_id, attempts = row.url, row.payload, row.channel_id, row.attempts
        error = ""
        try:
            target = pin_callback_url(url, allow_private=self.channels.allow_private_callbacks)
            body = json.dumps(payload, ensure_ascii=False).encode()
            headers = {
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                SIGNATURE_HEADER: sign(self.channels.signing_secrets(channel_id), body),
                "Frontdesk-Event-Id": str(payload.get("event_id", "")),
            }
            # Streamed, and at most the start of the answer read: a receiver cannot make us hold a
            # large body in memory.
            with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
                request = client.build_request(
                    "POST",
                    target.url,
                    content=body,
                    headers=headers,
                    extensions={"sni_hostname": target.server_name} if target.server_name else None,
                )
                response = client.send(request, stream=True)
                try:
                    if not 200 <= response.status_code < 300:
                        start = next(response.iter_bytes(), b"")[:200].decode("utf-8", "replace")
                        error = f"HTTP {response.status_code}: {start}"
                finally:
                    response.close()
        except CallbackUrlError as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except Exception as exc:
            # Counted as a failed try like any other, so a row that cannot be sent ends as failed.
            log.exception("Callback delivery %s failed unexpectedly", row_id)
            error = f"{type(exc).__name__}: {exc}"[:500]
        self._record(row_id, attempts + 1, error)

    def _record(self, row_id: int, attempts: int, error: str) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {"attempts": attempts, "claimed_until": None, "last_error": error}
        if not error:
            values.update(status="delivered", delivered_at=now)
        elif attempts >= self.max_attempts:
            values.update(status="failed")
            log.warning("Giving up on callback delivery %s after %d tries: %s", row_id, attempts, error)
        else:
            values.update(next_attempt_at=now + timedelta(seconds=self.backoff(attempts)))
        with self._sessions.begin() as db:
            db.execute(update(OutboxDelivery).where(OutboxDelivery.id == row_id).values(**values))

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones (tenacity's capped exponential + jitter)."""
        wait = wait_exponential_jitter(
            initial=self.backoff_initial_s, max=self.backoff_max_s, jitter=self.backoff_initial_s
        )
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempts
        return float(wait(state))

    # -- the admin's view -----------------------------------------------------------------------

    def deliveries(self, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        with self._sessions() as db:
            query = select(OutboxDelivery, Channel.name).join(
                Channel, Channel.id == OutboxDelivery.channel_id
            )
            if status:
                query = query.where(OutboxDelivery.status == status)
            rows = db.execute(query.order_by(OutboxDelivery.id.desc()).limit(limit)).tuples()
            return [
                Delivery(
                    id=r.id,
                    event_id=r.event_id,
                    channel=name,
                    kind=r.kind,
                    url=r.url,
                    status=r.status,
                    attempts=r.attempts,
                    last_error=r.last_error,
                    created_at=as_utc(r.created_at),
                    next_attempt_at=as_utc(r.next_attempt_at),
                    delivered_at=as_utc(r.delivered_at) if r.delivered_at else None,
                )
                for r, name in rows
            ]

    def retry(self, delivery_id: int) -> bool:
        """Try a failed delivery again (a fresh count of tries); False when there is no such failed one."""
        with self._sessions.begin() as db:
            changed = cast(
                "CursorResult[Any]",
                db.execute(
                    update(OutboxDelivery)
                    .where(OutboxDelivery.id == delivery_id, OutboxDelivery.status == "failed")
                    .values(
                        status="pending", attempts=0, next_attempt_at=datetime.now(UTC), claimed_until=None
                    )
                ),
            ).rowcount
        self._wake.set()
        return changed == 1
