"""Seeds the demo store (Northwind Goods customers and orders, `demo_data/store.json`) into the
database: idempotent, inserting only the customers and orders that are not there yet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from storage.commerce_models import Customer, Order, OrderItem

DEMO_STORE = Path(__file__).resolve().parent / "demo_data" / "store.json"


@dataclass(frozen=True)
class SeedReport:
    customers_added: int
    orders_added: int


def _days_ago(now: datetime, order: dict[str, Any], key: str) -> datetime | None:
    return now - timedelta(days=order[key]) if key in order else None


def seed_demo_store(engine: Engine, *, path: Path = DEMO_STORE, now: datetime | None = None) -> SeedReport:
    """Insert the demo customers and orders that are missing (matched by email and order number).

    Dates in the file are days relative to `now` (default: the moment of seeding), so a fresh demo
    has orders placed this week; once seeded, rows are never changed again. Safe to call at every
    start, and from several processes at once (a lost insert race counts as already seeded).
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    sessions = sessionmaker(engine)
    try:
        with sessions.begin() as db:
            known = {c.email: c for c in db.scalars(select(Customer))}
            have_orders = set(db.scalars(select(Order.number)))
            customers_added = orders_added = 0
            addresses = {}
            for person in data["customers"]:
                email = person["email"].strip().lower()
                addresses[email] = person
                if email not in known:
                    known[email] = Customer(email=email, name=person["name"], created_at=now)
                    db.add(known[email])
                    customers_added += 1
            db.flush()
            for order in data["orders"]:
                if order["number"] in have_orders:
                    continue
                email = order["email"].strip().lower()
                customer, person = known[email], addresses[email]
                items = [
                    OrderItem(
                        sku=i["sku"],
                        name=i["name"],
                        quantity=i["quantity"],
                        unit_price_cents=i["unit_price_cents"],
                    )
                    for i in order["items"]
                ]
                subtotal = sum(i.quantity * i.unit_price_cents for i in items)
                eta = order.get("estimated_delivery_in_days")
                db.add(
                    Order(
                        number=order["number"],
                        customer_id=customer.id,
                        status=order["status"],
                        placed_at=_days_ago(now, order, "placed_days_ago"),
                        shipped_at=_days_ago(now, order, "shipped_days_ago"),
                        delivered_at=_days_ago(now, order, "delivered_days_ago"),
                        estimated_delivery=(now + timedelta(days=eta)).date() if eta is not None else None,
                        carrier=order.get("carrier"),
                        tracking_number=order.get("tracking_number"),
                        currency=order["currency"],
                        subtotal_cents=subtotal,
                        shipping_cents=order["shipping_cents"],
                        tax_cents=order["tax_cents"],
                        total_cents=subtotal + order["shipping_cents"] + order["tax_cents"],
                        ship_to_name=person["name"],
                        ship_to_address=person["address"],
                        ship_to_city=person["city"],
                        ship_to_region=person["region"],
                        ship_to_postal_code=person["postal_code"],
                        ship_to_country=person["country"],
                        items=items,
                    )
                )
                orders_added += 1
    except IntegrityError:
        # Another process seeded the same rows at the same moment: the store is there.
        return SeedReport(0, 0)
    return SeedReport(customers_added, orders_added)
