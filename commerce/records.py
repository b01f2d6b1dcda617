"""What the commerce service hands out (frozen records, never ORM rows), its errors, and the
normalising of order numbers and emails typed by customers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

ORDER_STATUSES = ("received", "processing", "packed", "shipped", "delivered", "cancelled", "returned")
TICKET_NUMBER_BASE = 1000
REFUND_NUMBER_BASE = 1000
MAX_ORDER_NUMBER_INPUT = 40
MAX_EMAIL_CHARS = 254
# "NW-10042", "nw10042", "NW 10042", "#10042", "10042": the five digits are what identifies it.
_ORDER_NUMBER = re.compile(r"(?:NW)?[\s#-]*(\d{5})", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
# In running text (for routing): an order number standing alone, and an email address.
_ORDER_NUMBER_IN_TEXT = re.compile(r"(?<![\w-])NW[\s-]?(\d{5})(?!\d)", re.IGNORECASE)
_EMAIL_IN_TEXT = re.compile(r"[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")


class CommerceError(Exception):
    """Base of the errors below; each message is safe to show a customer."""


class VerificationFailedError(CommerceError):
    """The order number and email do not belong together (or either does not exist: the same answer)."""


class OrderNotFoundError(CommerceError):
    """The order is not among this customer's orders (whether or not it exists at all)."""


class RefundDecisionError(CommerceError):
    """The refund request was already approved or rejected (HTTP 409)."""


class UnknownRecordError(CommerceError, LookupError):
    """No ticket or refund request has this number (HTTP 404)."""


def normalize_order_number(raw: object) -> str | None:
    """`NW-#####` for anything that reads as one of our order numbers, else None."""
    if not isinstance(raw, str) or len(raw) > MAX_ORDER_NUMBER_INPUT:
        return None
    match = _ORDER_NUMBER.fullmatch(raw.strip())
    return f"NW-{match.group(1)}" if match else None


def normalize_email(raw: object) -> str | None:
    """The email trimmed and lower-cased, or None when it cannot be an email address."""
    if not isinstance(raw, str) or len(raw) > MAX_EMAIL_CHARS + 20:
        return None
    email = raw.strip().strip("<>").strip().lower()
    return email if len(email) <= MAX_EMAIL_CHARS and _EMAIL.fullmatch(email) else None


def find_order_number(text: str) -> str | None:
    """The first order number written in a message ("NW-10042", "nw 10042"), normalised, or None."""
    match = _ORDER_NUMBER_IN_TEXT.search(text[:10_000])
    return f"NW-{match.group(1)}" if match else None


def find_email(text: str) -> str | None:
    """The first email address written in a message, normalised, or None."""
    match = _EMAIL_IN_TEXT.search(text[:10_000])
    return normalize_email(match.group(0)) if match else None


def money(cents: int, currency: str = "USD") -> str:
    sign = "-" if cents < 0 else ""
    symbol = {"USD": "$", "CAD": "CA$"}.get(currency, f"{currency} ")
    return f"{sign}{symbol}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


@dataclass(frozen=True)
class CustomerRecord:
    id: int
    email: str
    name: str


@dataclass(frozen=True)
class OrderItemRecord:
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderRecord:
    id: int
    number: str
    customer_id: int
    status: str
    placed_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimated_delivery: date | None
    carrier: str | None
    tracking_number: str | None
    currency: str
    subtotal_cents: int
    shipping_cents: int
    tax_cents: int
    total_cents: int
    ship_to_name: str
    ship_to_city: str
    ship_to_region: str
    ship_to_postal_code: str
    ship_to_country: str
    items: tuple[OrderItemRecord, ...]


@dataclass(frozen=True)
class TicketRecord:
    id: int
    session_id: str | None
    customer_id: int | None
    subject: str
    description: str
    status: str
    created_at: datetime

    @property
    def number(self) -> str:
        return f"T-{TICKET_NUMBER_BASE + self.id}"


@dataclass(frozen=True)
class RefundRecord:
    id: int
    session_id: str | None
    customer_id: int
    order_number: str
    order_total_cents: int
    currency: str
    reason: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str

    @property
    def number(self) -> str:
        return f"R-{REFUND_NUMBER_BASE + self.id}"


def parse_record_number(raw: object, prefix: str, base: int) -> int | None:
    """The row id behind `T-1001` / `R-1001` (prefix optional), or None."""
    if isinstance(raw, int):
        return raw - base if raw > base else None
    if not isinstance(raw, str) or len(raw) > 20:
        return None
    match = re.fullmatch(rf"(?:{prefix}-?)?(\d{{4,9}})", raw.strip(), re.IGNORECASE)
    return int(match.group(1)) - base if match and int(match.group(1)) > base else None
