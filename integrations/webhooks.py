"""Inbound webhook events: each (channel, event_id) runs at most one turn, and twins get its answer.

A channel's `conversation_id` maps to one Frontdesk session. Without a callback URL the turn runs in
the request and its reply is the answer (200); with one, the message is stored, the request is
acknowledged (202) and the turn runs in the background; its reply reaches the callback through the
outbox (see outbox.py), written in the same transaction as the reply itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from agents.turn import SupportAgent
from agents.validation import clean_message
from integrations.callback_urls import CallbackUrlError
from integrations.channels import ChannelInfo, ChannelRegistry
from integrations.outbox import Outbox
from llm.factory import BackendUnavailableError
from storage.integration_models import ChannelConversation, WebhookEvent
from storage.models import ChatSession, Message, as_utc

log = logging.getLogger(__name__)
DEDUP_WINDOW = timedelta(hours=24)
# A request that has held its event this long without finishing died with its worker: a retry may
# take the event over (a turn on the embedded model takes seconds, a slow GPU queue minutes).
IN_FLIGHT_LEASE = timedelta(minutes=15)


class WebhookRefused(Exception):
    """An event that is answered with an error (status, code, message) and runs nothing."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class InboundEvent:
    event_id: str
    conversation_id: str
    user_id: str
    text: str
    user_name: str | None = None
    user_email: str | None = None
    callback_url: str | None = None


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class _Claim:
    row_id: int
    session_id: str | None
    message_id: int | None


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class WebhookService:
    """Handles verified inbound events for any channel; keyword-only beyond the channel."""

    def __init__(
        self,
        engine: Engine,
        *,
        agent: SupportAgent,
        channels: ChannelRegistry,
        outbox: Outbox,
        dedup_window: timedelta = DEDUP_WINDOW,
    ) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.agent = agent
        self.channels = channels
        self.outbox = outbox
        self.dedup_window = dedup_window

    def handle(self, channel: ChannelInfo, event: InboundEvent, *, raw: bytes) -> WebhookAnswer:
        """Run (or replay) the event; WebhookRefused for a reused id with another body or a twin in flight."""
        callback = event.callback_url or channel.callback_url
        if callback is not None:
            try:
                self.channels.check_callback(callback)
            except CallbackUrlError as exc:
                raise WebhookRefused(422, "callback_refused", str(exc)) from None
        # An invalid message (empty, too long) is refused before anything is stored, session included.
        clean_message(event.text, max_chars=self.agent.config.max_message_chars)
        claim = self._claim(channel.id, event, body_hash(raw), callback)
        if isinstance(claim, WebhookAnswer):
            return claim
        session_id, message_id = claim.session_id, claim.message_id
        if session_id is None or message_id is None:
            try:
                mapped = self._session_for(channel, event)
                stored = self.agent.accept(event.text, session_id=mapped)
                session_id, message_id = stored.session_id, stored.id
                if session_id != mapped:
                    # A person had closed the conversation: the channel's conversation goes on in
                    # the new session the message opened.
                    self._remap(channel.id, event.conversation_id, session_id)
            except BaseException:
                # Nothing was stored for this event: let a corrected retry use the same id.
                self._forget(claim.row_id)
                raise
            self._update(claim.row_id, session_id=session_id, message_id=message_id)
        if callback is not None:
            body = {"event_id": event.event_id, "session_id": session_id, "message_id": message_id}
            body["status"] = "accepted"
            self._finish(claim.row_id, "done", 202, body)
            threading.Thread(
                target=self._answer_in_background,
                args=(channel.id, event.event_id, session_id, message_id, callback),
                name="webhook-turn",
                daemon=True,
            ).start()
            return WebhookAnswer(202, body)
        try:
            result = self._run_turn(session_id, message_id)
        except BackendUnavailableError as exc:
            log.warning("Webhook turn failed, the model is unavailable: %s", exc)
            body = {
                "error": {
                    "code": "backend_unavailable",
                    "message": "The assistant's language model is unavailable; the message was saved. "
                    "Send the same event again to retry.",
                },
                "session_id": session_id,
            }
            self._finish(claim.row_id, "failed", 503, body)
            return WebhookAnswer(503, body)
        except BaseException:
            self._finish(claim.row_id, "failed", 500, {})
            raise
        body = {**result, "event_id": event.event_id}
        self._finish(claim.row_id, "done", 200, body)
        return WebhookAnswer(200, body)

    # -- the turn -------------------------------------------------------------------------------

    def _run_turn(self, session_id: str, message_id: int) -> dict[str, Any]:
        for turn_event in self.agent.respond(session_id, message_id):
            if turn_event.kind == "done" and turn_event.result is not None:
                return turn_event.result.public()
        raise RuntimeError("the turn ended without a result")

    def _answer_in_background(
        self, channel_id: int, event_id: str, session_id: str, message_id: int, callback: str
    ) -> None:
        try:
            self._run_turn(session_id, message_id)
        except Exception as exc:
            # The reply itself reaches the callback through the outbox hook; a failure is told too.
            log.warning("Webhook turn for event %s failed: %s", event_id, exc)
            unavailable = isinstance(exc, BackendUnavailableError)
            self.outbox.enqueue(
                channel_id=channel_id,
                session_id=session_id,
                kind="reply_failed",
                url=callback,
                payload={
                    "type": "reply_failed",
                    "in_reply_to": event_id,
                    "session_id": session_id,
                    "message_id": message_id,
                    "error": {
                        "code": "backend_unavailable" if unavailable else "internal_error",
                        "message": "The message was saved but could not be answered; send it again "
                        "with a new event_id to retry.",
                    },
                },
            )

    def resume(self) -> int:
        """Answer, in the background, acknowledged events whose turn a crash cut short (their message
        still waits); returns how many. Safe beside other processes: the turn lock orders them, and
        a message answered meanwhile is replayed, not answered twice."""
        with self._sessions() as db:
            rows = db.execute(
                select(
                    WebhookEvent.channel_id,
                    WebhookEvent.event_id,
                    WebhookEvent.session_id,
                    WebhookEvent.message_id,
                    WebhookEvent.callback_url,
                )
                .join(Message, Message.id == WebhookEvent.message_id)
                .where(
                    WebhookEvent.status == "done",
                    WebhookEvent.callback_url.is_not(None),
                    Message.status == "pending",
                )
                .order_by(WebhookEvent.id)
            ).all()
        for channel_id, event_id, session_id, message_id, callback in rows:
            threading.Thread(
                target=self._answer_in_background,
                args=(channel_id, event_id, session_id, message_id, callback),
                name="webhook-turn",
                daemon=True,
            ).start()
        return len(rows)

    # -- idempotency ----------------------------------------------------------------------------

    def _claim(
        self, channel_id: int, event: InboundEvent, digest: str, callback: str | None
    ) -> _Claim | WebhookAnswer:
        """Take the event for this request, or answer as its first run did (or refuse)."""
        for _ in range(5):
            now = datetime.now(UTC)
            try:
                with self._sessions.begin() as db:
                    row = WebhookEvent(
                        channel_id=channel_id,
                        event_id=event.event_id,
                        body_hash=digest,
                        status="in_flight",
                        conversation_id=event.conversation_id,
                        callback_url=callback,
                        created_at=now,
                        updated_at=now,
                    )
                    db.add(row)
                    db.flush()
                    return _Claim(row.id, None, None)
            except IntegrityError:
                pass  # a twin: the unique (channel, event_id) decides which request runs it
            with self._sessions.begin() as db:
                found = db.scalar(
                    select(WebhookEvent).where(
                        WebhookEvent.channel_id == channel_id, WebhookEvent.event_id == event.event_id
                    )
                )
                if found is None:
                    continue
                if as_utc(found.created_at) < now - self.dedup_window:
                    db.delete(found)  # an id seen over a day ago starts afresh
                    continue
                if found.body_hash != digest:
                    raise WebhookRefused(
                        422, "event_id_reused", "This event_id was already used with a different body."
                    )
                if found.status == "done":
                    return WebhookAnswer(
                        found.response_status or 200, found.response_body or {}, replayed=True
                    )
                stale = as_utc(found.updated_at) < now - IN_FLIGHT_LEASE
                if found.status == "in_flight" and not stale:
                    raise WebhookRefused(
                        409, "event_in_flight", "This event is still being answered; try again later."
                    )
                taken = cast(
                    "CursorResult[Any]",
                    db.execute(
                        update(WebhookEvent)
                        .where(WebhookEvent.id == found.id, WebhookEvent.updated_at == found.updated_at)
                        .values(status="in_flight", updated_at=now, callback_url=callback)
                    ),
                ).rowcount
                if taken == 1:
                    # A failed (or abandoned) run: this retry answers the message the first one stored.
                    return _Claim(found.id, found.session_id, found.message_id)
                raise WebhookRefused(
                    409, "event_in_flight", "This event is still being answered; try again later."
                )
        raise WebhookRefused(409, "event_in_flight", "This event kept changing; try again.")

    def _update(self, row_id: int, **values: Any) -> None:
        with self._sessions.begin() as db:
            db.execute(update(WebhookEvent).where(WebhookEvent.id == row_id).values(**values))

    def _finish(self, row_id: int, status: str, response_status: int, body: dict[str, Any]) -> None:
        self._update(
            row_id,
            status=status,
            response_status=response_status,
            response_body=body,
            updated_at=datetime.now(UTC),
        )

    def _forget(self, row_id: int) -> None:
        with self._sessions.begin() as db:
            db.execute(delete(WebhookEvent).where(WebhookEvent.id == row_id))

    # -- conversations --------------------------------------------------------------------------

    def _session_for(self, channel: ChannelInfo, event: InboundEvent) -> str:
        """The session of the channel's conversation, created on first sight."""
        with self._sessions.begin() as db:
            found = self._conversation(db, channel.id, event.conversation_id)
            if found is not None:
                if event.callback_url:
                    found.callback_url = event.callback_url
                return found.session_id
        session_id = self.agent.store.create_session(client_id=f"channel:{channel.name}")
        try:
            with self._sessions.begin() as db:
                db.add(
                    ChannelConversation(
                        channel_id=channel.id,
                        conversation_id=event.conversation_id,
                        session_id=session_id,
                        callback_url=event.callback_url or channel.callback_url,
                        user_id=event.user_id,
                        user_name=event.user_name,
                        user_email=event.user_email,
                    )
                )
            return session_id
        except IntegrityError:
            # Another event of the same new conversation won the race: use its session.
            with self._sessions.begin() as db:
                db.execute(delete(ChatSession).where(ChatSession.id == session_id))
                found = self._conversation(db, channel.id, event.conversation_id)
                assert found is not None
                return found.session_id

    def _remap(self, channel_id: int, conversation_id: str, session_id: str) -> None:
        with self._sessions.begin() as db:
            db.execute(
                update(ChannelConversation)
                .where(
                    ChannelConversation.channel_id == channel_id,
                    ChannelConversation.conversation_id == conversation_id,
                )
                .values(session_id=session_id)
            )

    @staticmethod
    def _conversation(db, channel_id: int, conversation_id: str) -> ChannelConversation | None:  # noqa: ANN001
        return db.scalar(
            select(ChannelConversation).where(
                ChannelConversation.channel_id == channel_id,
                ChannelConversation.conversation_id == conversation_id,
            )
        )

    def conversation_session(self, channel_id: int, conversation_id: str) -> str | None:
        """The session a channel's conversation maps to, if it has been seen."""
        with self._sessions() as db:
            found = self._conversation(db, channel_id, conversation_id)
            return found.session_id if found else None
