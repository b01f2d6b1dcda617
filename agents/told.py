"""What the customer must be told from a turn's tool results, whatever the model wrote.

A tool looked something up or recorded it in our own systems (an order's status, a ticket's or a
refund request's number, a sum), or refused and said what the customer must do next (send the email
on the order). Those texts are written to the customer (tools/), so the reply carries them: when
nothing the model wrote held, the reply is the tools' texts (not a quote of them, nor "I don't
know"); otherwise it is the model's checked sentences (already streamed), with the text of each
result they do not state after them (`states`). Checked sentences that give an order another status
than its record ("delivered" for a shipped order: close enough in meaning to pass the check) are
not kept: the record is the reply. A question about what can still be done with a looked-up order
("Can I still cancel it?") is answered by the help center's rule for its status (`asks_about_status`):
the record alone says only where it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from grounding.facts import polarity, stem
from grounding.sentences import plain
from grounding.verdict import Source
from tools.orders import STATUS_MEANING
from tools.registry import ToolOutcome

# The tools whose result the customer must read, and the part of a result that shows a reply told it.
KEYS: dict[str, re.Pattern[str]] = {
    "lookup_order": re.compile(r"^Status: ([^:\n]+)", re.MULTILINE),
    "open_ticket": re.compile(r"\b(T-\d+)\b"),
    "request_refund": re.compile(r"\b(R-\d+)\b"),
    "calculator": re.compile(r" = (-?[\d.]+)"),
}

_STATUS = re.compile(r"\b(?:" + "|".join(STATUS_MEANING) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class ToldReply:
    text: str
    from_tools: bool  # the reply is the tools' texts alone (nothing the model wrote is in it)


# The tools that record a problem the customer reported: the help center's policy on it is worth quoting
# after the record's number.
PROBLEM_REPORTS = frozenset({"open_ticket"})


# What a customer may ask to do with an order: the help center's answer depends on the order's status.
_WHAT_CAN_BE_DONE = re.compile(
    r"\b(cancel|change|modify|edit|update|return|exchange|refund|redirect|address)", re.IGNORECASE
)


# "Can I cancel my order?" with no order named: the answer depends on its status, which a lookup tells.
_MY_ORDER = re.compile(r"\b(?:my|our) (?:order|package|parcel)\b", re.IGNORECASE)
OFFER_LOOKUP = (
    "If you send me your order number and the email you used for it, I can look up its status and "
    "tell you what can still be done."
)


def asks_about_own_order(question: str) -> bool:
    """Whether `question` asks what can be done with the customer's own order ("Can I cancel my
    order?"), which depends on that order's status."""
    return bool(_WHAT_CAN_BE_DONE.search(question) and _MY_ORDER.search(question))


def asks_about_status(question: str, outcomes: Sequence[ToolOutcome]) -> str | None:
    """The status of the order a lookup found ("Shipped"), when `question` asks what can be done with
    it ("Can I still cancel it?"); None otherwise."""
    if not _WHAT_CAN_BE_DONE.search(question):
        return None
    for outcome in reversed(outcomes):
        if outcome.name == "lookup_order" and outcome.ok:
            found = KEYS["lookup_order"].search(outcome.result)
            return found.group(1).strip() if found else None
    return None


def names_status(text: str, status: str, *, as_a_status: bool = False) -> bool:
    """Whether `text` names an order status: "shipped" in "once an order is shipped" or "after it
    ships"; `as_a_status`: only as the help center writes a status, capitalised ("Packed or
    Shipped"), not a verb ("an address can't be delivered to")."""
    if as_a_status:
        return re.search(rf"\b{re.escape(status.capitalize())}\b", text) is not None
    word = status.lower()
    forms = {word, stem(word) + "s"}
    return any(t in forms for t in re.findall(r"[a-z]+", text.lower()))


def rules_for(source: Source, status: str) -> list[Source]:
    """The rules `source` (an article excerpt) gives for an order `status`, each as a source of its
    own: a paragraph that names the status as a status ("When the status changes to Packed or
    Shipped, the order can no longer be changed or cancelled. You can refuse the delivery, …"; "You
    have 30 days from the delivery date to start a return. The delivery date is the date shown as
    "Delivered" in your tracking. …"); the check picks the one that answers the question. "If your
    order ships in more than one box" does not name the status as a status."""
    rules = []
    # An excerpt's paragraphs end in a blank line or a Markdown line break ("  \n").
    for paragraph in re.split(r"\n\s*\n|  \n", source.text):
        text = plain(paragraph)
        if not text.startswith("#") and names_status(text, status, as_a_status=True):
            rules.append(Source(title=source.title, text=text, document=source.document))
    return rules


def reports_problem(outcomes: Sequence[ToolOutcome]) -> bool:
    return any(o.ok and o.name in PROBLEM_REPORTS for o in outcomes)


def to_tell(outcomes: Sequence[ToolOutcome]) -> list[ToolOutcome]:
    """The last outcome of each tool in `KEYS` whose text the customer may read (a result or the
    tool's own refusal; not an error about a malformed call), in the order they ran."""
    last: dict[str, ToolOutcome] = {}
    for outcome in outcomes:
        if outcome.name in KEYS and outcome.for_customer:
            last.pop(outcome.name, None)
            last[outcome.name] = outcome
    return list(last.values())


def states(reply: str, outcome: ToolOutcome) -> bool:
    """Whether `reply` states `outcome`: its key (the status, the number, the sum) for a result, its
    whole text for a refusal."""
    found = KEYS[outcome.name].search(outcome.result) if outcome.ok else None
    key = found.group(1) if found else outcome.result
    return key.strip().casefold() in reply.casefold()


def contradicts(reply: str, outcome: ToolOutcome) -> bool:
    """Whether `reply` gives the order a status that the order record in `outcome` does not mention
    ("it was delivered" of a shipped order; not "it can no longer be cancelled")."""
    if outcome.name != "lookup_order" or not outcome.ok:
        return False
    record = outcome.result.casefold()
    asserted = polarity(reply)[1]
    return any(
        found.group(0).casefold() not in record and stem(found.group(0)) in asserted
        for found in _STATUS.finditer(reply)
    )


def told_reply(checked: str | None, held: bool, outcomes: Sequence[ToolOutcome]) -> ToldReply | None:
    """The reply with what the tools must tell: `checked` is the answer check's text and `held`
    whether it is the model's own (not a quote, not the no-answer reply). None when no tool has
    anything to tell: the check's verdict stands."""
    told = to_tell(outcomes)
    if not told:
        return None
    if checked is None or not held or any(contradicts(checked, o) for o in told):
        return ToldReply("\n\n".join(o.result for o in told), from_tools=True)
    untold = [o.result for o in told if not states(checked, o)]
    return ToldReply("\n\n".join([checked, *untold]), from_tools=False)
