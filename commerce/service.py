"""The store the agent acts on, over the database: who a conversation's customer is, their orders,
support tickets and refund requests. Authorization lives here, in the queries: an order is only
ever read together with the customer it must belong to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from commerce.records import (
    REFUND_NUMBER_BASE,
    TICKET_NUMBER_BASE,
    CustomerRecord,
    OrderItemRecord,
    OrderNotFoundError,
    OrderRecord,
    RefundDecisionError,
    RefundRecord,
    TicketRecord,
    UnknownRecordError,
    VerificationFailedError,
    normalize_email,
    normalize_order_number,
    parse_record_number,
)
from memory.store import UnknownSessionError
from storage.commerce_models import Customer, Order, RefundRequest, Ticket
from storage.models import ChatSession, as_utc

MAX_SUBJECT_CHARS = 200
MAX_TEXT_CHARS = 4000
MAX_ACTOR_CHARS = 64


def _as_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _text(value: object, *, field: str, limit: int, one_line: bool = False) -> str:
    """Customer or model supplied text: required, trimmed, cut to `limit` characters."""
    text = " ".join(str(value).split()) if one_line else str(value).strip()
    if not text:
        raise ValueError(f"{field} must not be empty")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _customer(row: Customer) -> CustomerRecord:
    return CustomerRecord(id=row.id, email=row.email, name=row.name)


def _order(row: Order) -> OrderRecord:
    return OrderRecord(
        id=row.id,
        number=row.number,
        customer_id=row.customer_id,
        status=row.status,
        placed_at=_as_utc(row.placed_at),  # type: ignore[arg-type]
        shipped_at=_as_utc(row.shipped_at),
        delivered_at=_as_utc(row.delivered_at),
        estimated_delivery=row.estimated_delivery,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        currency=row.currency,
        subtotal_cents=row.subtotal_cents,
        shipping_cents=row.shipping_cents,
        tax_cents=row.tax_cents,
        total_cents=row.total_cents,
        ship_to_name=row.ship_to_name,
        ship_to_city=row.ship_to_city,
        ship_to_region=row.ship_to_region,
        ship_to_postal_code=row.ship_to_postal_code,
        ship_to_country=row.ship_to_country,
        items=tuple(
            OrderItemRecord(sku=i.sku, name=i.name, quantity=i.quantity, unit_price_cents=i.unit_price_cents)
            for i in row.items
        ),
    )


def _ticket(row: Ticket) -> TicketRecord:
    return TicketRecord(
        id=row.id,
        session_id=row.session_id,
        customer_id=row.customer_id,
        subject=row.subject,
        description=row.description,
        status=row.status,
        created_at=_as_utc(row.created_at),  # type: ignore[arg-type]
    )


def _refund(row: RefundRequest, order: Order) -> RefundRecord:
    return RefundRecord(
        id=row.id,
        session_id=row.session_id,
        customer_id=row.customer_id,
        order_number=order.number,
        order_total_cents=order.total_cents,
        currency=order.currency,
        reason=row.reason,
        status=row.status,
        created_at=_as_utc(row.created_at),  # type: ignore[arg-type]
        decided_at=_as_utc(row.decided_at),
        decided_by=row.decided_by,
        decision_note=row.decision_note,
    )


class CommerceService:
    """Customers, orders, tickets and refund requests; keyword-only methods, each one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # -- who the customer is --------------------------------------------------------------------

    def verify_customer(self, *, session_id: str, order_number: str, email: str) -> CustomerRecord:
        """Prove the conversation's customer by an order number and the email on that order, and
        remember them on the session. VerificationFailedError, one message whatever did not match."""
        number, address = normalize_order_number(order_number), normalize_email(email)
        with self._sessions.begin() as db:
            chat = self._chat(db, session_id)
            customer = None
            if number is not None and address is not None:
                customer = db.scalar(
                    select(Customer)
                    .join(Order, Order.customer_id == Customer.id)
                    .where(Order.number == number, Customer.email == address)
                )
            if customer is None:
                raise VerificationFailedError("the order number and the email do not match our records")
            chat.verified_customer_id = customer.id
            return _customer(customer)

    def verified_customer(self, *, session_id: str) -> CustomerRecord | None:
        """The customer this conversation proved to be, if any."""
        with self._sessions() as db:
            chat = self._chat(db, session_id)
            if chat.verified_customer_id is None:
                return None
            customer = db.get(Customer, chat.verified_customer_id)
            return _customer(customer) if customer is not None else None

    # -- orders ---------------------------------------------------------------------------------

    def order_for_customer(self, *, customer_id: int, order_number: str) -> OrderRecord | None:
        """The order, only if it belongs to `customer_id`; None both for someone else's and for none."""
        number = normalize_order_number(order_number)
        if number is None:
            return None
        with self._sessions() as db:
            row = db.scalar(
                select(Order)
                .options(selectinload(Order.items))
                .where(Order.number == number, Order.customer_id == customer_id)
            )
            return _order(row) if row is not None else None

    def orders_for_customer(self, *, customer_id: int) -> list[OrderRecord]:
        """A customer's orders, newest first."""
        with self._sessions() as db:
            rows = db.scalars(
                select(Order)
                .options(selectinload(Order.items))
                .where(Order.customer_id == customer_id)
                .order_by(Order.placed_at.desc(), Order.id.desc())
            )
            return [_order(r) for r in rows]

    # -- tickets --------------------------------------------------------------------------------

    def open_ticket(
        self, *, session_id: str | None, subject: str, description: str, customer_id: int | None = None
    ) -> TicketRecord:
        """Record a support ticket (status `open`); its number for the customer is `record.number`."""
        subject = _text(subject, field="subject", limit=MAX_SUBJECT_CHARS, one_line=True)
        description = _text(description, field="description", limit=MAX_TEXT_CHARS)
        with self._sessions.begin() as db:
            if session_id is not None:
                self._chat(db, session_id)
            row = Ticket(
                session_id=session_id,
                customer_id=customer_id,
                subject=subject,
                description=description,
                status="open",
                created_at=datetime.now(UTC),
            )
            db.add(row)
            db.flush()
            return _ticket(row)

    def ticket(self, number: str | int) -> TicketRecord:
        """The ticket `T-1001` (UnknownRecordError if none)."""
        ticket_id = parse_record_number(number, "T", TICKET_NUMBER_BASE)
        with self._sessions() as db:
            row = db.get(Ticket, ticket_id) if ticket_id is not None else None
            if row is None:
                raise UnknownRecordError(f"no ticket {number!s:.20}")
            return _ticket(row)

    def tickets(
        self, *, session_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[TicketRecord]:
        """Tickets, newest first, optionally of one conversation or one status."""
        query = select(Ticket).order_by(Ticket.id.desc()).limit(max(1, min(limit, 1000)))
        if session_id is not None:
            query = query.where(Ticket.session_id == session_id)
        if status is not None:
            query = query.where(Ticket.status == status)
        with self._sessions() as db:
            return [_ticket(r) for r in db.scalars(query)]

    # -- refund requests ------------------------------------------------------------------------

    def request_refund(
        self, *, session_id: str | None, customer_id: int, order_number: str, reason: str
    ) -> tuple[RefundRecord, bool]:
        """Record a `pending` refund request for one of the customer's orders, for a person to decide.

        Returns (request, created): an order that already has a pending request gets that one back
        (created False) rather than a second. OrderNotFoundError if the order is not theirs.
        """
        reason = _text(reason, field="reason", limit=MAX_TEXT_CHARS)
        number = normalize_order_number(order_number)
        try:
            return self._request_refund(session_id, customer_id, number, reason)
        except IntegrityError:
            # A request for the same order was committed a moment ago (the partial unique index on
            # pending requests): hand back that one.
            return self._request_refund(session_id, customer_id, number, reason)

    def _request_refund(
        self, session_id: str | None, customer_id: int, number: str | None, reason: str
    ) -> tuple[RefundRecord, bool]:
        with self._sessions.begin() as db:
            if session_id is not None:
                self._chat(db, session_id)
            order = (
                db.scalar(select(Order).where(Order.number == number, Order.customer_id == customer_id))
                if number is not None
                else None
            )
            if order is None:
                raise OrderNotFoundError("that order is not among this customer's orders")
            pending = db.scalar(
                select(RefundRequest).where(
                    RefundRequest.order_id == order.id, RefundRequest.status == "pending"
                )
            )
            if pending is not None:
                return _refund(pending, order), False
            row = RefundRequest(
                session_id=session_id,
                customer_id=customer_id,
                order_id=order.id,
                reason=reason,
                status="pending",
                created_at=datetime.now(UTC),
            )
            db.add(row)
            db.flush()
            return _refund(row, order), True

    def refund_requests(self, *, status: str | None = None, limit: int = 100) -> list[RefundRecord]:
        """Refund requests, oldest first (the order a person works through them), optionally by status."""
        query = (
            select(RefundRequest, Order)
            .join(Order, Order.id == RefundRequest.order_id)
            .order_by(RefundRequest.id)
            .limit(max(1, min(limit, 1000)))
        )
        if status is not None:
            query = query.where(RefundRequest.status == status)
        with self._sessions() as db:
            return [_refund(r, o) for r, o in db.execute(query)]

    def decide_refund(self, *, number: str | int, approve: bool, by: str, note: str = "") -> RefundRecord:
        """A person approves or rejects a pending request; exactly one decision wins (RefundDecisionError
        for the others, UnknownRecordError for no such request)."""
        refund_id = parse_record_number(number, "R", REFUND_NUMBER_BASE)
        actor = _text(by, field="by", limit=MAX_ACTOR_CHARS, one_line=True)
        note = " ".join(str(note).split())[:500]
        with self._sessions.begin() as db:
            decided = db.execute(
                update(RefundRequest)
                .where(RefundRequest.id == refund_id, RefundRequest.status == "pending")
                .values(
                    status="approved" if approve else "rejected",
                    decided_at=datetime.now(UTC),
                    decided_by=actor,
                    decision_note=note,
                )
                .execution_options(synchronize_session=False)
            )
            row = db.get(RefundRequest, refund_id) if refund_id is not None else None
            if row is None:
                raise UnknownRecordError(f"no refund request {number!s:.20}")
            if cast("CursorResult[Any]", decided).rowcount != 1:
                raise RefundDecisionError(f"refund request {number!s:.20} was already {row.status}")
            db.refresh(row)
            return _refund(row, db.get(Order, row.order_id))  # type: ignore[arg-type]

    @staticmethod
    def _chat(db: Session, session_id: str) -> ChatSession:
        chat = db.get(ChatSession, session_id)
        if chat is None:
            raise UnknownSessionError(session_id)
        return chat
