"""The store the agent acts on: customers proved by order number and email, their orders, support
tickets and refund requests (pending until a person decides), and the demo store's seed."""

from commerce.records import (
    ORDER_STATUSES,
    CommerceError,
    CustomerRecord,
    OrderItemRecord,
    OrderNotFoundError,
    OrderRecord,
    RefundDecisionError,
    RefundRecord,
    TicketRecord,
    UnknownRecordError,
    VerificationFailedError,
    find_email,
    find_order_number,
    money,
    normalize_email,
    normalize_order_number,
)
from commerce.seed import SeedReport, seed_demo_store
from commerce.service import CommerceService

__all__ = [
    "ORDER_STATUSES",
    "CommerceError",
    "CommerceService",
    "CustomerRecord",
    "OrderItemRecord",
    "OrderNotFoundError",
    "OrderRecord",
    "RefundDecisionError",
    "RefundRecord",
    "SeedReport",
    "TicketRecord",
    "UnknownRecordError",
    "VerificationFailedError",
    "find_email",
    "find_order_number",
    "money",
    "normalize_email",
    "normalize_order_number",
    "seed_demo_store",
]
