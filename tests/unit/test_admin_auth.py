"""The admin password: configured, or generated once, printed once and kept only as a hash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from web.admin_auth import AdminAuth


def test_a_configured_password_is_checked(data_dir: Path) -> None:
    auth = AdminAuth.from_settings("s3cret-pass", data_dir)
    assert auth.check("admin", "s3cret-pass")
    assert not auth.check("admin", "s3cret-pas")
    assert not auth.check("root", "s3cret-pass")
    assert not (data_dir / "admin_password.argon2").exists()


def test_a_generated_password_is_printed_once_and_stored_hashed(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = AdminAuth.from_settings(None, data_dir)
    printed = capsys.readouterr().out
    password = re.search(r"generated password: (\S+)", printed).group(1)
    assert first.check("admin", password)

    stored = (data_dir / "admin_password.argon2").read_text()
    assert password not in stored and stored.startswith("$argon2")

    second = AdminAuth.from_settings(None, data_dir)
    assert capsys.readouterr().out == ""
    assert second.check("admin", password) and not second.check("admin", "guess")
