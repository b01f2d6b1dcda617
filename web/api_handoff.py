"""Admin REST routes for people answering customers: the inbox, take / reply / release / close,
tickets and refund decisions (`/api/v1/admin/...`, HTTP Basic checked by `AdminGate`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from commerce import CommerceService, RefundRecord
from handoff import ConversationState, HandoffService
from handoff.notices import NOTICE_ROLE, Move, notice, refund_decided
from handoff.service import INBOX_STATES
from web.admin_auth import AdminUser
from web.errors import ApiError
from web.schemas import error_responses
from web.services import Services, ServicesDep

MAX_REPLY_CHARS = 4000


def _handoff(services: ServicesDep) -> HandoffService:
    if services.handoff is None:
        raise ApiError(503, "handoff_disabled", "Human handoff is not configured.")
    return services.handoff


def _commerce(services: ServicesDep) -> CommerceService:
    if services.commerce is None:
        raise ApiError(503, "commerce_disabled", "Orders, tickets and refunds are not configured.")
    return services.commerce


HandoffDep = Annotated[HandoffService, Depends(_handoff)]
CommerceDep = Annotated[CommerceService, Depends(_commerce)]


class AgentAction(BaseModel):
    """Who acts (the support agent's name; default: the admin login) and why."""

    model_config = ConfigDict(extra="forbid")
    agent: StrictStr | None = Field(default=None, max_length=64)
    reason: StrictStr = Field(default="", max_length=500)


class AgentReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: StrictStr = Field(min_length=1, max_length=MAX_REPLY_CHARS)
    agent: StrictStr | None = Field(default=None, max_length=64)


class RefundDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: StrictStr = Field(default="", max_length=500)
    agent: StrictStr | None = Field(default=None, max_length=64)


def _plain(value: Any) -> Any:
    """Dataclass records as JSON-able dicts (enums as their value, times as ISO 8601)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, ConversationState) else value


def _status(handoff: HandoffService, session_id: str) -> dict[str, Any]:
    return _plain(asdict(handoff.status(session_id)))


router = APIRouter(
    prefix="/api/v1/admin", tags=["admin: conversations"], responses=error_responses(401, 404, 409, 422, 429)
)


@router.get(
    "/conversations",
    summary="Conversations: the inbox (queued first, oldest first) or, with `state=all`, every one, newest first",
)
def inbox(
    _: AdminUser,
    handoff: HandoffDep,
    services: ServicesDep,
    state: Annotated[
        str | None,
        Query(description="bot, queued, human, closed or all; default queued and human (the inbox)"),
    ] = None,
    q: Annotated[
        str, Query(max_length=200, description="Only sessions whose id, title or a message contains this")
    ] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=1000, description="Default: `limit`")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Each with its state, why and since when, who holds it, when it started and last had a message,
    its message counts and its replies' ratings (`feedback`: up / down); `total` counts every match."""
    browse_all = (state or "").strip().lower() == "all"
    states = None if browse_all else ([state] if state is not None else [str(s) for s in INBOX_STATES])
    try:
        found = services.browser.search(
            states=states,
            q=q,
            page=page,
            page_size=page_size or limit,
            order="recent" if browse_all else "inbox",
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_state", f"{exc}, or all") from None
    return {
        "conversations": [c.public() for c in found.conversations],
        "total": found.total,
        "page": found.page,
        "page_size": found.page_size,
    }


@router.get(
    "/conversations/{session_id}", summary="One conversation: state, transitions and the whole transcript"
)
def conversation(session_id: str, _: AdminUser, handoff: HandoffDep, services: ServicesDep) -> dict[str, Any]:
    """Each message with its rating (`feedback`) and whether the turn inspector has its trace
    (`inspectable`: `GET /api/v1/admin/messages/{id}/trace`)."""
    status = _status(handoff, session_id)
    return {
        **status,
        "transitions": [_plain(asdict(t)) for t in handoff.transitions(session_id)],
        "messages": services.browser.transcript(session_id),
    }


def _who(user: str, given: str | None) -> str:
    return (given or "").strip() or user


@router.post(
    "/conversations/{session_id}/reply",
    summary="Reply to the customer as a person (the conversation must be taken by you)",
    status_code=201,
)
def reply(session_id: str, body: AgentReply, user: AdminUser, services: ServicesDep) -> dict[str, Any]:
    return post_human_reply(services, session_id, text=body.text, agent=_who(user, body.agent))


def post_human_reply(services: Services, session_id: str, *, text: str, agent: str) -> dict[str, Any]:
    """Store a person's reply; only the person holding the conversation may reply (409 otherwise)."""
    handoff = _handoff(services)
    status = handoff.status(session_id)
    if status.state != ConversationState.HUMAN or status.assignee != agent:
        holder = f"held by {status.assignee}" if status.assignee else "not taken by anyone"
        raise ApiError(
            409,
            "not_your_conversation",
            f"Only the person holding a conversation may reply; it is {status.state} and {holder}. Take it first.",
        )
    text = text.strip()
    if not text:
        raise ApiError(422, "empty_message", "The reply is empty.")
    stored = services.store.add_message(
        session_id=session_id, role="human_agent", content=text, trace={"agent": agent}
    )
    return {"message": stored.public(), **_status(handoff, session_id)}


def move(services: Services, session_id: str, action: Move, *, by: str, reason: str = "") -> None:
    """take: queued → human (exactly one of several wins); release: → bot; close: → closed.

    The customer is told each move (handoff/notices.py). A release hands the customer's messages
    that the person left unanswered to the bot, which answers them in the background (the
    customer's open chat shows the replies).
    """
    handoff = _handoff(services)
    if action == "take":
        handoff.take(session_id, by=by, reason=reason)
    else:
        to = ConversationState.BOT if action == "release" else ConversationState.CLOSED
        handoff.transition(session_id, to, by=by, reason=reason)
    services.store.add_message(session_id=session_id, role=NOTICE_ROLE, content=notice(action, by))
    if action == "release" and services.store.requeue_held(session_id):
        services.agent.answer_waiting(session_id)


@router.post(
    "/conversations/{session_id}/{action}",
    summary="Take a queued conversation, hand it back to the bot (release), or close it",
)
def act(
    session_id: str,
    action: Move,
    user: AdminUser,
    handoff: HandoffDep,
    services: ServicesDep,
    body: Annotated[AgentAction | None, Body()] = None,
) -> dict[str, Any]:
    body = body or AgentAction()
    move(services, session_id, action, by=_who(user, body.agent), reason=body.reason)
    return _status(handoff, session_id)


@router.get("/tickets", summary="Tickets the agent opened, newest first", tags=["admin: tickets and refunds"])
def tickets(
    _: AdminUser, commerce: CommerceDep, session_id: str | None = None, status: str | None = None
) -> dict[str, Any]:
    rows = commerce.tickets(session_id=session_id, status=status)
    return {"tickets": [_plain({**asdict(t), "number": t.number}) for t in rows]}


@router.get("/refunds", summary="Refund requests, oldest first", tags=["admin: tickets and refunds"])
def refunds(_: AdminUser, commerce: CommerceDep, status: str | None = None) -> dict[str, Any]:
    return {
        "refunds": [
            _plain({**asdict(r), "number": r.number}) for r in commerce.refund_requests(status=status)
        ]
    }


def decide_refund(services: Services, number: str, *, approve: bool, by: str, note: str = "") -> RefundRecord:
    """A person approves or rejects a pending refund request; the conversation that asked for it is
    told the decision (handoff/notices.py)."""
    record = _commerce(services).decide_refund(number=number, approve=approve, by=by, note=note)
    if record.session_id is not None and services.store.exists(record.session_id):
        services.store.add_message(
            session_id=record.session_id,
            role=NOTICE_ROLE,
            content=refund_decided(record.number, record.order_number, approve, record.decision_note),
        )
    return record


def _decide(services: Services, number: str, *, approve: bool, by: str, note: str) -> dict[str, Any]:
    record = decide_refund(services, number, approve=approve, by=by, note=note)
    return _plain({**asdict(record), "number": record.number})


@router.post(
    "/refunds/{number}/approve",
    summary="Approve a pending refund request",
    tags=["admin: tickets and refunds"],
)
def approve(
    number: str, user: AdminUser, services: ServicesDep, body: Annotated[RefundDecision | None, Body()] = None
) -> dict[str, Any]:
    body = body or RefundDecision()
    return _decide(services, number, approve=True, by=_who(user, body.agent), note=body.note)


@router.post(
    "/refunds/{number}/reject", summary="Reject a pending refund request", tags=["admin: tickets and refunds"]
)
def reject(
    number: str, user: AdminUser, services: ServicesDep, body: Annotated[RefundDecision | None, Body()] = None
) -> dict[str, Any]:
    body = body or RefundDecision()
    return _decide(services, number, approve=False, by=_who(user, body.agent), note=body.note)
