"""Admin REST routes for integrations: channels (create, rotate, delete), callback deliveries (list,
retry the failed) and API keys (create, list, revoke); HTTP Basic is checked by `AdminGate`."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from integrations import UnknownChannelError
from integrations.apikeys import ApiKeyExistsError, UnknownApiKeyError
from integrations.callback_urls import CallbackUrlError
from integrations.channels import DEFAULT_GRACE, ChannelExistsError
from web.admin_auth import AdminUser
from web.api_webhooks import IntegrationsDep
from web.errors import ApiError
from web.schemas import ErrorBody, PublicModel


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1, max_length=64, description="a-z, 0-9, '-', '_'.")
    callback_url: StrictStr | None = Field(
        default=None, max_length=2000, description="The default callback for the channel's events."
    )


class ChannelRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_seconds: int = Field(
        default=int(DEFAULT_GRACE.total_seconds()),
        ge=0,
        le=7 * 24 * 3600,
        description="How long the previous secret stays valid.",
    )


class ChannelPublic(PublicModel):
    name: str
    callback_url: str | None
    created_at: str
    rotated_at: str | None
    previous_secret_valid_until: str | None


class ChannelWithSecret(ChannelPublic):
    secret: str = Field(description="The signing secret: shown this once, never again.")


class ChannelList(PublicModel):
    channels: list[ChannelPublic]


class DeliveryPublic(PublicModel):
    id: int
    event_id: str
    channel: str
    kind: str = Field(description="`reply`, `human_reply`, `notice` or `reply_failed`.")
    url: str
    status: str = Field(description="`pending`, `delivered` or `failed` (gave up; may be retried).")
    attempts: int
    last_error: str
    created_at: str
    next_attempt_at: str
    delivered_at: str | None


class DeliveryList(PublicModel):
    deliveries: list[DeliveryPublic]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1, max_length=64)


class ApiKeyPublic(PublicModel):
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: str
    revoked_at: str | None


class ApiKeyWithSecret(ApiKeyPublic):
    key: str = Field(description="The key: shown this once, never again. Send `Authorization: Bearer <key>`.")


class ApiKeyList(PublicModel):
    keys: list[ApiKeyPublic]


def _errors(**texts: str) -> dict[int | str, dict[str, Any]]:
    return {
        int(status.removeprefix("e")): {"model": ErrorBody, "description": t} for status, t in texts.items()
    }


router = APIRouter(
    prefix="/api/v1/admin",
    responses=_errors(
        e401="Admin login required (HTTP Basic, user `admin`).",
        e422="Invalid input.",
        e429="Too many failed logins.",
    ),
)
CHANNELS: list[str | Enum] = ["admin: integrations"]


@router.post(
    "/channels",
    tags=CHANNELS,
    status_code=201,
    summary="Create a channel; its signing secret is in this answer only",
    responses=_errors(e409="A channel with this name exists.", e422="Invalid name or refused callback URL."),
)
def create_channel(body: ChannelCreate, _: AdminUser, integrations: IntegrationsDep) -> ChannelWithSecret:
    try:
        info, secret = integrations.channels.create(body.name, callback_url=body.callback_url)
    except ChannelExistsError as exc:
        raise ApiError(409, "channel_exists", str(exc)) from None
    except CallbackUrlError as exc:
        raise ApiError(422, "callback_refused", str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, "invalid_name", str(exc)) from None
    return ChannelWithSecret.model_validate({**info.public(), "secret": secret})


@router.get("/channels", tags=CHANNELS, summary="The channels (never their secrets)")
def list_channels(_: AdminUser, integrations: IntegrationsDep) -> ChannelList:
    return ChannelList.model_validate({"channels": [c.public() for c in integrations.channels.all()]})


@router.post(
    "/channels/{name}/rotate",
    tags=CHANNELS,
    summary="A new signing secret; the previous one stays valid for the grace period",
    responses=_errors(e404="No channel has this name.", e422="Invalid grace period."),
)
def rotate_channel(
    name: str,
    _: AdminUser,
    integrations: IntegrationsDep,
    body: Annotated[ChannelRotate | None, Body()] = None,
) -> ChannelWithSecret:
    grace = timedelta(seconds=(body or ChannelRotate()).grace_seconds)
    try:
        info, secret = integrations.channels.rotate(name, grace=grace)
    except UnknownChannelError:
        raise ApiError(404, "unknown_channel", f"There is no channel named {name!r}.") from None
    return ChannelWithSecret.model_validate({**info.public(), "secret": secret})


@router.delete(
    "/channels/{name}",
    tags=CHANNELS,
    status_code=204,
    summary="Delete a channel: its events and callbacks go; the sessions of its conversations stay",
    responses=_errors(e404="No channel has this name."),
)
def delete_channel(name: str, _: AdminUser, integrations: IntegrationsDep) -> Response:
    try:
        integrations.channels.delete(name)
    except UnknownChannelError:
        raise ApiError(404, "unknown_channel", f"There is no channel named {name!r}.") from None
    return Response(status_code=204)


@router.get("/deliveries", tags=CHANNELS, summary="Callback deliveries, newest first")
def deliveries(
    _: AdminUser,
    integrations: IntegrationsDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    rows = integrations.outbox.deliveries(status=status, limit=limit)
    return DeliveryList.model_validate({"deliveries": [d.public() for d in rows]})


@router.post(
    "/deliveries/{delivery_id}/retry",
    tags=CHANNELS,
    summary="Try a failed delivery again, with a fresh count of tries",
    responses=_errors(e404="No failed delivery has this id."),
)
def retry_delivery(delivery_id: int, _: AdminUser, integrations: IntegrationsDep) -> DeliveryPublic:
    if not integrations.outbox.retry(delivery_id):
        raise ApiError(404, "not_found", f"There is no failed delivery {delivery_id}.")
    found = next(d for d in integrations.outbox.deliveries(limit=1000) if d.id == delivery_id)
    return DeliveryPublic.model_validate(found.public())


KEYS: list[str | Enum] = ["admin: API keys"]


@router.post(
    "/api-keys",
    tags=KEYS,
    status_code=201,
    summary="Create an API key; the key is in this answer only",
    responses=_errors(e409="A key with this name exists.", e422="Invalid name."),
)
def create_key(body: ApiKeyCreate, _: AdminUser, integrations: IntegrationsDep) -> ApiKeyWithSecret:
    try:
        info, key = integrations.keys.create(body.name)
    except ApiKeyExistsError as exc:
        raise ApiError(409, "key_exists", str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, "invalid_name", str(exc)) from None
    return ApiKeyWithSecret.model_validate({**info.public(), "key": key})


@router.get("/api-keys", tags=KEYS, summary="The API keys (never the keys themselves)")
def list_keys(_: AdminUser, integrations: IntegrationsDep) -> ApiKeyList:
    return ApiKeyList.model_validate({"keys": [k.public() for k in integrations.keys.all()]})


@router.delete(
    "/api-keys/{name}",
    tags=KEYS,
    summary="Revoke an API key (at once; the name stays taken)",
    responses=_errors(e404="No active key has this name."),
)
def revoke_key(name: str, _: AdminUser, integrations: IntegrationsDep) -> ApiKeyPublic:
    try:
        return ApiKeyPublic.model_validate(integrations.keys.revoke(name).public())
    except UnknownApiKeyError:
        raise ApiError(404, "not_found", f"There is no active API key named {name!r}.") from None
