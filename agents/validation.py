"""Checks a customer's message before anything is stored or run."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 control characters other than tab, newline and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# UTF-16 surrogate code points: JSON lets a client send them as lone "\ud800" escapes, but they are
# not characters and no database or UTF-8 encoder accepts them.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class InvalidMessageError(ValueError):
    """The message cannot be accepted; `status` is the HTTP status a client should see."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def clean_message(text: object, *, max_chars: int) -> str:
    """Return the message normalised (NFC, trimmed) or raise InvalidMessageError."""
    if not isinstance(text, str):
        raise InvalidMessageError("invalid_message", "The message must be a string.")
    if _CONTROL.search(text):
        raise InvalidMessageError(
            "invalid_characters", "The message contains control characters; please remove them."
        )
    if _SURROGATE.search(text):
        raise InvalidMessageError(
            "invalid_characters", "The message contains invalid Unicode (a lone surrogate); please resend it."
        )
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        raise InvalidMessageError("empty_message", "The message is empty.")
    if len(text) > max_chars:
        raise InvalidMessageError(
            "message_too_large",
            f"The message is {len(text)} characters long; the limit is {max_chars}.",
            status=413,
        )
    return text
