"""The admin login: one password (FRONTDESK_ADMIN_PASSWORD, or generated once and stored hashed)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from web.errors import ApiError

log = logging.getLogger(__name__)
ADMIN_USER = "admin"


class AdminAuth:
    """Checks the admin password against an argon2 hash; the plain password is never stored."""

    def __init__(self, password_hash: str) -> None:
        self._hasher = PasswordHasher()
        self._hash = password_hash

    @classmethod
    def from_settings(cls, password: str | None, data_dir: Path) -> AdminAuth:
        hasher = PasswordHasher()
        if password:
            return cls(hasher.hash(password))
        hash_file = data_dir / "admin_password.argon2"
        if hash_file.exists():
            return cls(hash_file.read_text().strip())
        generated = secrets.token_urlsafe(12)
        hash_file.parent.mkdir(parents=True, exist_ok=True)
        hash_file.write_text(hasher.hash(generated))
        hash_file.chmod(0o600)
        # Printed once, on the first start only; afterwards only the hash exists.
        print(
            f"\n  Admin console: user '{ADMIN_USER}', generated password: {generated}\n"
            f"  (shown once; set FRONTDESK_ADMIN_PASSWORD to choose your own)\n",
            flush=True,
        )
        return cls(hasher.hash(generated))

    def check(self, username: str, password: str) -> bool:
        if not secrets.compare_digest(username.encode(), ADMIN_USER.encode()):
            return False
        try:
            return self._hasher.verify(self._hash, password)
        except (VerificationError, InvalidHashError):
            return False


def require_admin(auth: AdminAuth) -> Callable[..., str]:
    """A FastAPI dependency: HTTP Basic credentials for the admin API, 401 otherwise."""
    basic = HTTPBasic(auto_error=False)

    def dependency(credentials: HTTPBasicCredentials | None = Depends(basic)) -> str:
        if credentials is None or not auth.check(credentials.username, credentials.password):
            raise ApiError(
                401, "unauthorized", "Admin login required.", headers={"WWW-Authenticate": "Basic"}
            )
        return credentials.username

    return dependency
