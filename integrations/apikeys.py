"""API keys for the public REST API: created by the admin (shown once, stored as SHA-256, named,
revocable) or configured in FRONTDESK_API_KEYS. While any key exists, the API needs one."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from storage.integration_models import ApiKey
from storage.models import as_utc

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
KEY_PREFIX = "fd_"


class ApiKeyExistsError(ValueError):
    """A key with this name exists already (revoked names stay taken, so logs stay unambiguous)."""


class UnknownApiKeyError(LookupError):
    """No active key has this name."""


@dataclass(frozen=True)
class ApiKeyInfo:
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _digest(key: str) -> str:
    # Keys are 32 random bytes: a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        name=row.name,
        prefix=row.prefix,
        created_at=as_utc(row.created_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
    )


class ApiKeys:
    """The stored keys and the configured ones; `identify` names the key a token belongs to."""

    def __init__(self, engine: Engine, *, configured: str = "") -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._configured = [_digest(k.strip()) for k in configured.split(",") if k.strip()]

    def create(self, name: str) -> tuple[ApiKeyInfo, str]:
        """A new key; the only time the key itself is returned."""
        if not NAME_PATTERN.match(name):
            raise ValueError("A key name is 1–64 characters: letters, digits, space, '_', '.', '-'.")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        try:
            with self._sessions.begin() as db:
                row = ApiKey(name=name, prefix=key[:10], key_hash=_digest(key))
                db.add(row)
                db.flush()
                return _info(row), key
        except IntegrityError:
            raise ApiKeyExistsError(f"An API key named {name!r} already exists.") from None

    def all(self) -> list[ApiKeyInfo]:
        with self._sessions() as db:
            return [_info(r) for r in db.scalars(select(ApiKey).order_by(ApiKey.id))]

    def revoke(self, name: str) -> ApiKeyInfo:
        with self._sessions.begin() as db:
            changed = cast(
                "CursorResult[Any]",
                db.execute(
                    update(ApiKey)
                    .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(UTC))
                ),
            ).rowcount
            row = db.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is None or not changed:
                raise UnknownApiKeyError(name)
            return _info(row)

    def required(self) -> bool:
        """Whether the API needs a key: one is configured, or an admin created one not revoked."""
        if self._configured:
            return True
        with self._sessions() as db:
            return db.scalar(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).limit(1)) is not None

    def identify(self, token: str) -> str | None:
        """The name of the active key `token` is ("configured" for FRONTDESK_API_KEYS), or None."""
        digest = _digest(token)
        if any(hmac.compare_digest(digest, known) for known in self._configured):
            return "configured:" + digest[:8]
        with self._sessions() as db:
            # The lookup is by the hash of a random key: its timing tells nothing about valid keys.
            row = db.scalar(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
            return row.name if row is not None else None
