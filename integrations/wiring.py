"""Builds the integrations from the settings: one object the web layer and app.py hand around."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from agents.turn import SupportAgent
from integrations.apikeys import ApiKeys
from integrations.channels import ChannelRegistry, load_master_key
from integrations.outbox import Outbox
from integrations.ratelimit import RateLimits
from integrations.webhooks import WebhookService
from settings import Settings


@dataclass
class Integrations:
    channels: ChannelRegistry
    webhooks: WebhookService
    outbox: Outbox
    keys: ApiKeys
    limits: RateLimits


def build_integrations(settings: Settings, engine: Engine, agent: SupportAgent) -> Integrations:
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    channels = ChannelRegistry(
        engine,
        master_key=load_master_key(secret, settings.data_dir),
        allow_private_callbacks=settings.allow_private_callbacks,
    )
    outbox = Outbox(
        engine,
        channels=channels,
        max_attempts=settings.outbox_max_attempts,
        timeout_s=settings.outbox_timeout_s,
    )
    return Integrations(
        channels=channels,
        webhooks=WebhookService(engine, agent=agent, channels=channels, outbox=outbox),
        outbox=outbox,
        keys=ApiKeys(engine, configured=settings.api_keys.get_secret_value()),
        limits=RateLimits(
            per_key=settings.rate_limit_per_key,
            per_session=settings.rate_limit_per_session,
            per_ip=settings.rate_limit_per_ip,
        ),
    )
