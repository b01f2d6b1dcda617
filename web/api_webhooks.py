"""The inbound webhook route `POST /api/v1/webhooks/{channel}`: signature first, then the body, then
the event (run, replayed or refused). It authenticates by its signature alone, never by API key."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from integrations import RateLimited, SignatureError, UnknownChannelError, verify
from integrations.signing import SIGNATURE_HEADER
from integrations.webhooks import InboundEvent, WebhookRefused
from integrations.wiring import Integrations
from web.errors import ApiError
from web.schemas import ChatReply, ErrorBody, PublicModel, ServiceUnavailableBody
from web.services import ServicesDep


def integrations_of(services: ServicesDep) -> Integrations:
    if services.integrations is None:
        raise ApiError(503, "integrations_disabled", "Integrations are not configured.")
    return services.integrations


IntegrationsDep = Annotated[Integrations, Depends(integrations_of)]


def rate_limited(exc: RateLimited) -> ApiError:
    return ApiError(429, "too_many_requests", str(exc), headers={"Retry-After": str(exc.retry_after)})


def invalid_body(exc: ValidationError) -> ApiError:
    parts = [
        f"{'.'.join(str(p) for p in err.get('loc', ())) or 'body'}: {err.get('msg')}" for err in exc.errors()
    ]
    return ApiError(422, "invalid_request", "; ".join(parts)[:1000] or "invalid request")


class WebhookUser(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: StrictStr = Field(min_length=1, max_length=200, description="The user's id on the channel's side.")
    name: StrictStr | None = Field(default=None, max_length=200)
    email: StrictStr | None = Field(default=None, max_length=254)


class WebhookEventIn(BaseModel):
    """One customer message from a channel. The raw body is what the signature covers."""

    model_config = ConfigDict(extra="ignore")
    event_id: StrictStr = Field(
        min_length=1, max_length=200, description="Unique per channel; a retry sends the same id and body."
    )
    conversation_id: StrictStr = Field(
        min_length=1, max_length=200, description="The channel's conversation; one Frontdesk session each."
    )
    user: WebhookUser
    text: StrictStr = Field(description="The customer's message.")
    callback_url: StrictStr | None = Field(
        default=None,
        max_length=2000,
        description="Where the reply (and later replies of people) is POSTed, signed; "
        "absent: the channel's callback URL, or none (the reply comes in the response).",
    )


class WebhookReply(ChatReply):
    event_id: str


class WebhookAccepted(PublicModel):
    event_id: str
    session_id: str
    message_id: int = Field(description="The stored customer message.")
    status: str = Field(description="`accepted`: the reply will be POSTed to the callback URL.")


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its local `$defs` references inlined (for `openapi_extra`)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


WEBHOOK_DESCRIPTION = f"""
Signed with the channel's secret: header `{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>`, where
`v1` = HMAC-SHA256(secret, `"<t>." + raw body`) in hex; several `v1` are accepted (during a secret
rotation), and `t` must be within 5 minutes of the server's clock. No API key is needed.

- Without a callback URL (in the event or on the channel) the turn runs now and the reply is the
  answer (200, like `/api/v1/chat`).
- With one, the message is stored and the request acknowledged at once (202); the reply, and later
  replies of people who take the conversation, are POSTed to the callback, signed the same way,
  each with an `event_id` of its own (retried with backoff until delivered).
- The same `event_id` within 24 hours answers what its first run answered (header
  `Idempotent-Replayed: true`) and never runs a second turn; with a different body it is a 422,
  and while its first run is still going, a 409.
"""


def _error(text: str, model: type = ErrorBody) -> dict[str, Any]:
    return {"model": model, "description": text}


router = APIRouter(tags=["integrations: webhooks"])


@router.post(
    "/api/v1/webhooks/{channel}",
    summary="A customer message from a channel (signed)",
    description=WEBHOOK_DESCRIPTION,
    response_model=None,
    responses={
        200: {"model": WebhookReply, "description": "The reply (no callback URL)."},
        202: {"model": WebhookAccepted, "description": "Stored; the reply goes to the callback URL."},
        401: _error("Signature missing, malformed, stale (over 5 minutes) or not matching."),
        404: _error("No channel has this name."),
        409: _error("The same event is still being answered."),
        413: _error("The body is over 256 KiB, or the message too long."),
        422: _error("Invalid event, an event_id reused with another body, or a refused callback URL."),
        429: _error("Too many requests for this conversation or client address; see `Retry-After`."),
        503: _error(
            "The model is unavailable; the message was stored (send the event again).", ServiceUnavailableBody
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(WebhookEventIn.model_json_schema())}},
        },
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "t=<unix seconds>,v1=<hex HMAC-SHA256>",
            }
        ],
    },
)
async def webhook(
    request: Request,
    services: ServicesDep,
    channel: Annotated[str, Path(max_length=64)],
) -> JSONResponse:
    integrations = integrations_of(services)
    try:
        info = await anyio.to_thread.run_sync(integrations.channels.get, channel)
        keys = await anyio.to_thread.run_sync(integrations.channels.verification_secrets, channel)
    except UnknownChannelError:
        raise ApiError(404, "unknown_channel", f"There is no channel named {channel!r}.") from None
    raw = await request.body()
    try:
        verify(request.headers.get(SIGNATURE_HEADER), raw, keys)
    except SignatureError as exc:
        raise ApiError(401, exc.code, str(exc)) from None
    try:
        parsed = WebhookEventIn.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid_body(exc) from None
    try:
        integrations.limits.hit("conversation", f"{channel}:{parsed.conversation_id}")
    except RateLimited as exc:
        raise rate_limited(exc) from None
    event = InboundEvent(
        event_id=parsed.event_id,
        conversation_id=parsed.conversation_id,
        user_id=parsed.user.id,
        user_name=parsed.user.name,
        user_email=parsed.user.email,
        text=parsed.text,
        callback_url=parsed.callback_url,
    )
    try:
        answer = await anyio.to_thread.run_sync(partial(integrations.webhooks.handle, info, event, raw=raw))
    except WebhookRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
