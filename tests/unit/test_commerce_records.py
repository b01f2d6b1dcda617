"""Reading order numbers and emails as customers type them (pure functions)."""

from __future__ import annotations

import pytest

from commerce import find_email, find_order_number, money, normalize_email, normalize_order_number


@pytest.mark.parametrize(
    "raw", ["NW-10042", "nw-10042", "NW10042", "NW 10042", "#10042", "10042", " NW-10042 "]
)
def test_order_numbers_are_normalised(raw: str) -> None:
    assert normalize_order_number(raw) == "NW-10042"


@pytest.mark.parametrize(
    "raw",
    ["", "NW-1004", "NW-100421", "NW-10042'; DROP TABLE orders;--", "1" * 10_000, "AB-10042", None, 10042],
)
def test_anything_else_is_not_an_order_number(raw: object) -> None:
    assert normalize_order_number(raw) is None


def test_emails_are_trimmed_and_lower_cased() -> None:
    assert normalize_email(" Maria.Lopez@Example.COM ") == "maria.lopez@example.com"
    assert normalize_email("<maria.lopez@example.com>") == "maria.lopez@example.com"
    for bad in ("", "maria", "maria@", "@example.com", "a b@example.com", "x" * 300 + "@example.com", None):
        assert normalize_email(bad) is None


def test_order_numbers_and_emails_are_found_in_a_message() -> None:
    message = "Where is my order NW-10042? I'm Maria.Lopez@example.com."
    assert find_order_number(message) == "NW-10042"
    assert find_email(message) == "maria.lopez@example.com"
    assert find_order_number("order nw 10042 please") == "NW-10042"
    assert find_order_number("call 555-10042 or NW-100423") is None
    assert find_email("no email here @ all") is None


def test_money_is_shown_in_the_order_currency() -> None:
    assert money(13404) == "$134.04"
    assert money(129500, "CAD") == "CA$1,295.00"
    assert money(-5) == "-$0.05"
