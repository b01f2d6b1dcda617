"""Integrations: channels and their signing secrets, signed webhooks with idempotency, the outbox
that delivers signed callbacks, API keys and rate limits for the public REST API."""

from integrations.apikeys import ApiKeys
from integrations.channels import ChannelRegistry, UnknownChannelError
from integrations.outbox import Outbox
from integrations.ratelimit import RateLimited, RateLimits
from integrations.signing import SIGNATURE_HEADER, SignatureError, sign, verify
from integrations.webhooks import WebhookService

__all__ = [
    "SIGNATURE_HEADER",
    "ApiKeys",
    "ChannelRegistry",
    "Outbox",
    "RateLimited",
    "RateLimits",
    "SignatureError",
    "UnknownChannelError",
    "WebhookService",
    "sign",
    "verify",
]
