"""The answer check inside a turn: only checked text reaches the customer (grounding/ does the checking).

In `checked` mode each sentence is sent once it is complete and supported by this turn's sources
(the excerpts in the prompt and the tool results so far); in `extractive` mode nothing the model
writes is sent, only the verdict's quote; in `generative` mode text streams as generated and only
the final cleanup (cut-off and repeated sentences) applies to what is stored. Judging a sentence
embeds it: that runs in a worker thread, not on the event loop.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from agents.events import TurnEvent
from agents.loop import LoopResult
from agents.told import (
    OFFER_LOOKUP,
    asks_about_own_order,
    asks_about_status,
    names_status,
    reports_problem,
    rules_for,
    told_reply,
)
from grounding import AnswerChecker, CheckedReply, Source, Verdict, is_repeating
from grounding.extractive import quote_line
from grounding.facts import vocabulary
from knowledge.types import RetrievedChunk, Retriever
from tools.registry import ToolOutcome

# What the check calls a tool's result when it quotes it to the customer ("*Your order* says: …"):
# the tool's own name is internal. Only results written for the customer are sources (`_for_customer`).
TOOL_SOURCES = {
    "lookup_order": "Your order",
    "request_refund": "Your refund request",
    "open_ticket": "Your support ticket",
    "request_human": "Our support queue",
    "calculator": "The calculator",
}

# How many excerpts are searched for the one that names a looked-up order's status.
STATUS_SEARCH_K = 20


@dataclass
class Decided:
    """What a turn sends after its tool loop: `text` None means nothing held up (say "I don't know")."""

    text: str | None
    cited: list[RetrievedChunk] = field(default_factory=list)
    from_tools: bool = False  # the reply is the tools' texts alone (agents/told.py)


class CheckedAnswer:
    """Wraps one turn's events: holds back unchecked answer text, and gives the final verdict."""

    def __init__(
        self,
        checker: AnswerChecker | None,
        question: str,
        excerpts: Sequence[RetrievedChunk],
        known_names: Sequence[str] = (),
        retriever: Retriever | None = None,
        can_look_up: bool = False,
    ) -> None:
        """`retriever`: where the help center's rule for a looked-up order's status is searched
        (`_search_status`), when the question asks what can be done with it; `can_look_up`: an order
        lookup is there for the asking (the reply to "Can I cancel my order?" offers it)."""
        if checker is not None and known_names:
            # The company and assistant names of this turn's prompts (edited in the admin) may
            # appear in a reply without being in the sources; the shared checker stays as it is.
            checker = copy.copy(checker)
            checker.known_names = checker.known_names | vocabulary(" ".join(known_names))
        self.checker = checker
        self.asked = question  # the customer's words
        self.question = question  # what the reply is checked as answering
        self.sources = [Source(title=c.title, text=c.text, document=c.document) for c in excerpts]
        self.chunks = dict(enumerate(excerpts))  # the help-center excerpts among the sources, by position
        self.streamed = ""  # what the customer has been sent so far
        self._live: CheckedReply | None = None
        self.retriever = retriever
        self.can_look_up = can_look_up
        # The looked-up order's status, when the question asks what can be done with it ("Shipped").
        self.status: str | None = None

    @property
    def holds_tokens(self) -> bool:
        return self.checker is not None and self.checker.mode != "generative"

    async def events(self, turn: AsyncGenerator[TurnEvent, None]) -> AsyncGenerator[TurnEvent, None]:
        """Re-yield the tool loop's events; answer tokens only as far as they are checked."""
        if self.checker is not None and self.holds_tokens:
            self._live = self.checker.start(question=self.question, sources=self.sources)
        async with aclosing(turn):
            async for event in turn:
                if event.kind == "tool" and event.tool and self.checker is not None and _for_customer(event):
                    # A tool result is a source for what the model says next; the excerpts a
                    # knowledge search found are sources as articles, like the prompt's.
                    for chunk in event.found:
                        self.chunks[len(self.sources)] = chunk
                        self.sources.append(
                            Source(title=chunk.title, text=chunk.text, document=chunk.document)
                        )
                    if not event.found:
                        title = TOOL_SOURCES.get(event.tool["name"], "Our records")
                        self.sources.append(Source(title=title, text=str(event.tool["result"])))
                    if event.outcome is not None and (
                        status := asks_about_status(self.asked, [event.outcome])
                    ):
                        # "Can I still cancel it?" is asked of a shipped order: the check and its quote
                        # judge what holds at that status (agents/told.py), on the excerpts that name it.
                        self.status = status
                        self.question = f"{self.asked} My order is {status}."
                        await asyncio.to_thread(self._search_status, status)
                    if self.holds_tokens:
                        self._live = self.checker.start(question=self.question, sources=self.sources)
                if event.kind != "token":
                    yield event
                    continue
                if not self.holds_tokens:
                    self.streamed += event.text
                    yield event
                    continue
                # A checked sentence goes out as word-sized tokens, like the model's own stream.
                # Most tokens complete no sentence: kept here at once, without a worker thread.
                judge = self._live.take(event.text) if self._live is not None and self._feeds else None
                checked = await asyncio.to_thread(judge) if judge is not None else ""
                self.streamed += checked
                for piece in re.findall(r"\s*\S+", checked):
                    yield TurnEvent("token", text=piece)

    def stop_reason(self, generated: str) -> str | None:
        """Why the model's generation so far should stop: "repetition" when it repeats itself,
        "unsupported" when the check gave up on it (grounding.streaming.GIVE_UP_AFTER); else None."""
        if is_repeating(generated):
            return "repetition"
        if self._live is not None and self._feeds and self._live.gave_up:
            return "unsupported"
        return None

    @property
    def _feeds(self) -> bool:
        return self._live is not None and self.checker is not None and self.checker.mode == "checked"

    def verdict(self, generated: str, outcomes: Sequence[ToolOutcome]) -> Verdict | None:
        """The checked reply for `generated` (None without a checker)."""
        if self.checker is None:
            return None
        if self._live is not None:
            return self._live.finish()
        return self.checker.check(question=self.question, reply=generated, sources=self.sources)

    def decide(
        self,
        generated: str,
        verdict: Verdict | None,
        loop: LoopResult,
    ) -> Decided:
        """The reply for the model's final text and its verdict, with the excerpts it cites (the
        Sources under it: those it says or quotes; none for a record or "I don't know").

        A refusal of the routed call (the email on the order is missing or does not match) is sent as
        it is: our own words, with nothing to check, quote or cite. Without a checker the text is sent
        as generated. A tool that looked the answer up or recorded it in our own systems, or
        said what the customer must send, is told (agents/told.py): with the model's checked sentences
        when they held, else instead of a quote or "I don't know" (a reported problem's ticket is
        followed by the help center's quote about it, when one answers; a question about what can be
        done with a looked-up order, by the quote of the rule for its status, unless one of the
        model's sentences states that rule). In `generative` mode the model's text is the reply, tidied only."""
        if loop.refused or verdict is None:
            return Decided(generated, [] if loop.refused else self.cited(None, loop.found_chunks))
        cited = self.cited(verdict, loop.found_chunks)
        if verdict.mode != "generative":
            # A record a tool looked up answers: a help-center quote the check put after the model's
            # sentences is beside the point next to it (and was not streamed); the sentences stay.
            said = verdict.said if verdict.said is not None else verdict.text
            told = told_reply(said, verdict.fallback == "none", loop.outcomes)
            status = self.status
            if told is not None and status is not None and not self._states_rule(verdict, status):
                # "Can I still cancel it?" of a shipped order: the record, then the help center's rule
                # for that status, quoted; the model's sentences (not that rule) give way.
                rule = self._status_rule(status)
                if rule is not None:
                    records = told_reply(None, False, loop.outcomes)
                    assert records is not None
                    return Decided(f"{records.text}\n\n{rule[0]}", rule[1], from_tools=True)
            if told is not None and told.from_tools and reports_problem(loop.outcomes):
                # "My plates arrived broken": the ticket's number, then what the help center says
                # about such a problem (report it within 7 days, what happens next), quoted.
                policy = self._article_quote()
                if policy is not None:
                    return Decided(f"{told.text}\n\n{policy[0]}", policy[1], from_tools=True)
            if told is not None:
                # The model's sentences with the record: the quote the check put after them is left
                # out, and so are its sources.
                said_cited = self.cited(verdict, loop.found_chunks, sentences_only=True)
                return Decided(told.text, [] if told.from_tools else said_cited, told.from_tools)
        if verdict.text is None:
            return Decided(None)
        if self.can_look_up and not loop.outcomes and asks_about_own_order(self.asked):
            # "Can I cancel my order?": the general rule, and the offer to check this order's status.
            return Decided(f"{verdict.text}\n\n{OFFER_LOOKUP}", cited)
        return Decided(verdict.text, cited)

    def _search_status(self, status: str) -> None:
        """Adds the excerpts that name an order's `status` among the best `STATUS_SEARCH_K` for the
        question asked of it: the one that says what can be done at that status ("When the status
        changes to Packed or Shipped, …") is seldom among those found for "Can I still cancel it?"."""
        if self.retriever is None:
            return
        known = {c.chunk_id for c in self.chunks.values()}
        for chunk in self.retriever.retrieve(self.question, k=STATUS_SEARCH_K):
            if chunk.chunk_id not in known and names_status(chunk.text, status, as_a_status=True):
                self.chunks[len(self.sources)] = chunk
                self.sources.append(Source(title=chunk.title, text=chunk.text, document=chunk.document))

    def _states_rule(self, verdict: Verdict, status: str) -> bool:
        """Whether the model's kept sentences state the help center's rule for an order `status`: one
        names it and is backed by an article (not by the order record, which only says where it is)."""
        return any(
            v.kept
            and v.source_index is not None
            and self.sources[v.source_index].document is not None
            and names_status(v.text, status)
            for v in verdict.sentences
        )

    def _article_quote(self) -> tuple[str, list[RetrievedChunk]] | None:
        """The help-center quote that answers the question (and the excerpts it comes from), if any."""
        articles = [i for i, s in enumerate(self.sources) if s.document is not None]
        if self.checker is None or not articles:
            return None
        verdict = self.checker.check(
            question=self.question, reply="", sources=[self.sources[i] for i in articles]
        )
        if verdict.fallback != "extractive" or verdict.text is None:
            return None
        return verdict.text, [self.chunks[articles[i]] for i in verdict.cited if articles[i] in self.chunks]

    def _status_rule(self, status: str) -> tuple[str, list[RetrievedChunk]] | None:
        """The help center's rule for an order's `status` that answers the question, quoted whole
        (agents/told.py: `rules_for`), and the excerpt it comes from; None when no excerpt has one."""
        rules = [(i, rule) for i, s in enumerate(self.sources) if s.document for rule in rules_for(s, status)]
        if self.checker is None or not rules:
            return None
        # The check's quote picks the rule that answers; the customer reads all of it.
        checker = copy.copy(self.checker)
        checker.max_quotes = 1
        verdict = checker.check(question=self.question, reply="", sources=[rule for _, rule in rules])
        if verdict.fallback != "extractive" or not verdict.cited:
            return None
        index, rule = rules[verdict.cited[0]]
        cited = [self.chunks[index]] if index in self.chunks else []
        return quote_line(rule.title, rule.text), cited

    def cited(
        self, verdict: Verdict | None, found: Sequence[RetrievedChunk], *, sentences_only: bool = False
    ) -> list[RetrievedChunk]:
        """The help-center excerpts a reply draws on, best first: those its kept sentences and its
        quote come from (`sentences_only`: its kept sentences alone); every excerpt the model read
        when nothing was checked."""
        if verdict is None or verdict.mode == "generative":
            shown = {c.chunk_id: c for c in [*self.chunks.values(), *found]}
        else:
            used = verdict.cited
            if sentences_only:
                used = [v.source_index for v in verdict.sentences if v.kept and v.source_index is not None]
            shown = {self.chunks[i].chunk_id: self.chunks[i] for i in used if i in self.chunks}
        return sorted(shown.values(), key=lambda c: -c.score)

    def unsent(self, reply: str) -> Iterator[str]:
        """The rest of `reply` the customer has not been sent yet, in word-sized pieces."""
        sent = self.streamed.strip()
        if reply.startswith(sent):
            rest = reply[len(sent) :]
        elif sent.startswith(reply):
            rest = ""  # the stored reply is the sent text with a cut-off tail removed
        else:
            rest = "\n\n" + reply  # a fallback replaces what was sent; the done event carries it
        yield from re.findall(r"\s*\S+", rest)


def _for_customer(event: TurnEvent) -> bool:
    """Whether a tool event's result may be quoted to the customer: the tool's own output or refusal,
    not an error about the call (a malformed call is the model's to fix, tools/registry.py)."""
    return event.outcome is None or event.outcome.for_customer
