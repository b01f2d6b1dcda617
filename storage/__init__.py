"""Persistence: SQLAlchemy models, the engine (SQLite or PostgreSQL) and Alembic migrations."""

from storage.commerce_models import Customer, Order, OrderItem, RefundRequest, Ticket
from storage.db import make_engine, migrate
from storage.feedback_models import Feedback
from storage.models import Base, ChatSession, Document, HandoffTransition, Message

__all__ = [
    "Base",
    "ChatSession",
    "Customer",
    "Document",
    "Feedback",
    "HandoffTransition",
    "Message",
    "Order",
    "OrderItem",
    "RefundRequest",
    "Ticket",
    "make_engine",
    "migrate",
]
