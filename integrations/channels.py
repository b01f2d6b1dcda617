"""Channels: created and rotated by the admin, each with a signing secret shown once.

A secret is never stored: it is derived as HMAC-SHA256(master key, "channel:<name>:<nonce>"), and
only the nonce is in the database. The master key is FRONTDESK_WEBHOOK_SECRET, or a random key
generated once into the data dir (mode 0600). A database leak alone gives no secret away, and the
secret stays recoverable for signing callbacks. Rotation keeps the previous secret valid for a
grace period, so integrations can switch over without a gap.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from integrations.callback_urls import check_callback_url
from storage.integration_models import Channel
from storage.models import as_utc

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MASTER_KEY_FILE = "webhook_master.key"
DEFAULT_GRACE = timedelta(hours=24)


class UnknownChannelError(LookupError):
    """No channel has this name."""


class ChannelExistsError(ValueError):
    """A channel with this name already exists."""


@dataclass(frozen=True)
class ChannelInfo:
    id: int
    name: str
    callback_url: str | None
    created_at: datetime
    rotated_at: datetime | None
    previous_valid_until: datetime | None

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "callback_url": self.callback_url,
            "created_at": self.created_at.isoformat(),
            "rotated_at": self.rotated_at.isoformat() if self.rotated_at else None,
            "previous_secret_valid_until": (
                self.previous_valid_until.isoformat() if self.previous_valid_until else None
            ),
        }


def load_master_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured master key, or the one generated into the data dir on first use."""
    if configured:
        return configured.encode()
    path = data_dir / MASTER_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48) + "\n")
        path.chmod(0o600)
    return path.read_text().strip().encode()


def _info(row: Channel) -> ChannelInfo:
    now = datetime.now(UTC)
    until = as_utc(row.previous_until) if row.previous_until else None
    return ChannelInfo(
        id=row.id,
        name=row.name,
        callback_url=row.callback_url,
        created_at=as_utc(row.created_at),
        rotated_at=as_utc(row.rotated_at) if row.rotated_at else None,
        previous_valid_until=until if until and until > now else None,
    )


class ChannelRegistry:
    """Channels over the database; keyword-only beyond the channel name."""

    def __init__(self, engine: Engine, *, master_key: bytes, allow_private_callbacks: bool = False) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._master_key = master_key
        self.allow_private_callbacks = allow_private_callbacks

    def _secret(self, name: str, nonce: str) -> str:
        digest = hmac.new(self._master_key, f"channel:{name}:{nonce}".encode(), hashlib.sha256).digest()
        return "whsec_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def check_callback(self, url: str) -> str:
        return check_callback_url(url, allow_private=self.allow_private_callbacks)

    def create(self, name: str, *, callback_url: str | None = None) -> tuple[ChannelInfo, str]:
        """A new channel and its secret (the only time the secret is returned)."""
        if not NAME_PATTERN.match(name):
            raise ValueError(
                "A channel name is 1–64 characters: a-z, 0-9, '-' and '_', starting with a letter or digit."
            )
        if callback_url is not None:
            self.check_callback(callback_url)
        nonce = secrets.token_hex(16)
        try:
            with self._sessions.begin() as db:
                row = Channel(name=name, callback_url=callback_url, secret_nonce=nonce)
                db.add(row)
                db.flush()
                info = _info(row)
        except IntegrityError:
            raise ChannelExistsError(f"A channel named {name!r} already exists.") from None
        return info, self._secret(name, nonce)

    def rotate(self, name: str, *, grace: timedelta = DEFAULT_GRACE) -> tuple[ChannelInfo, str]:
        """A new secret; the one before it stays valid for `grace`."""
        nonce = secrets.token_hex(16)
        now = datetime.now(UTC)
        with self._sessions.begin() as db:
            row = self._get(db, name)
            row.previous_nonce, row.previous_until = row.secret_nonce, now + grace
            row.secret_nonce, row.rotated_at = nonce, now
            db.flush()
            info = _info(row)
        return info, self._secret(name, nonce)

    def get(self, name: str) -> ChannelInfo:
        with self._sessions() as db:
            return _info(self._get(db, name))

    def all(self) -> list[ChannelInfo]:
        with self._sessions() as db:
            return [_info(r) for r in db.scalars(select(Channel).order_by(Channel.name))]

    def delete(self, name: str) -> None:
        with self._sessions.begin() as db:
            if (
                cast("CursorResult[Any]", db.execute(delete(Channel).where(Channel.name == name))).rowcount
                == 0
            ):
                raise UnknownChannelError(name)

    def verification_secrets(self, name: str) -> list[str]:
        """The secrets a signature may use now: the current one, and the previous during its grace."""
        with self._sessions() as db:
            row = self._get(db, name)
            keys = [self._secret(row.name, row.secret_nonce)]
            if row.previous_nonce and row.previous_until and as_utc(row.previous_until) > datetime.now(UTC):
                keys.append(self._secret(row.name, row.previous_nonce))
            return keys

    def signing_secrets(self, channel_id: int) -> list[str]:
        """The secrets that sign a channel's callbacks: one `v1` each, so a receiver that has not
        switched to the new secret yet still verifies them during the grace period."""
        with self._sessions() as db:
            row = db.get(Channel, channel_id)
            if row is None:
                raise UnknownChannelError(str(channel_id))
            return self.verification_secrets(row.name)

    @staticmethod
    def _get(db, name: str) -> Channel:  # noqa: ANN001
        row = db.scalar(select(Channel).where(Channel.name == name))
        if row is None:
            raise UnknownChannelError(name)
        return row
