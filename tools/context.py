"""What a tool may use during one turn: the conversation, its verified customer and the domain
services, handed to each call by `run_tool_call` (the model never sees or fills it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.tools import InjectedToolArg

from commerce import CommerceService, CustomerRecord
from handoff import HandoffService


@dataclass
class ToolContext:
    """Per-turn dependencies of the tools. Build one per turn with `for_session`.

    `verified_customer_id` is who the conversation proved to be, read from the database at the
    start of the turn and updated when a tool verifies someone during the turn; the database stays
    the record across turns (`chat_sessions.verified_customer_id`).
    """

    # Out of repr: the session id is what grants access to a conversation, and a repr can end up
    # in an error text that the model (and the trace) sees.
    session_id: str = field(repr=False)
    commerce: CommerceService = field(repr=False)
    handoff: HandoffService = field(repr=False)
    verified_customer_id: int | None = None

    @classmethod
    def for_session(
        cls, session_id: str, *, commerce: CommerceService, handoff: HandoffService
    ) -> ToolContext:
        customer = commerce.verified_customer(session_id=session_id)
        return cls(
            session_id=session_id,
            commerce=commerce,
            handoff=handoff,
            verified_customer_id=customer.id if customer is not None else None,
        )

    def verify(self, *, order_number: str, email: str) -> CustomerRecord:
        """Prove the customer by order number + email, remembered by the session (VerificationFailedError)."""
        customer = self.commerce.verify_customer(
            session_id=self.session_id, order_number=order_number, email=email
        )
        self.verified_customer_id = customer.id
        return customer


# The parameter type of every tool argument that receives the context.
InjectedContext = Annotated[ToolContext, InjectedToolArg]
