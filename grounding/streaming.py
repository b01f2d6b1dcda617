"""Checking a reply while it streams: each finished, supported sentence may be sent at once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from grounding.sentences import is_cut_off, join_units, split_reply, without_dangling_lead_ins
from grounding.verdict import Source, Verdict, failed_verdict

if TYPE_CHECKING:
    from grounding.checker import AnswerChecker
    from grounding.context import CheckContext

# Where a new unit starts, so that the one before it is complete (sentences.py): the first letter of
# the words after a sentence's end and a space, or of a new line (after a list marker and markup).
# A token that starts none cannot complete a sentence, and the reply so far is split again only for
# one that may (splitting it at every token took time quadratic in the reply's length: ~38 ms of the
# event loop for a reply of 164 tokens).
_FIRST_LETTER = r"(?:(?:[-*+•]|\d{1,2}[.)])\s+)?[*_`\[(\"'“‘]*[^\s*_`\[]"
_UNIT_STARTS = re.compile(rf"[.!?…]+[\"'”’)\]*_]*\s+{_FIRST_LETTER}|\n\s*{_FIRST_LETTER}")
# How far before the new token a unit's start may begin (a sentence's end, closing quotes or brackets,
# spaces, a list marker, markup).
_LOOK_BACK = 24
# A reply whose first this many claims all failed the check is given up on. On the embedded model (a
# replay of bench/answers.py's 76 turns), 24 replies got there; in 2 a later sentence would have held
# up, neither with a key fact the quote lacked; stopping cut 31 % of the text generated.
GIVE_UP_AFTER = 3


class CheckedReply:
    """A reply checked sentence by sentence while it streams in.

    `feed(token)` returns the text that may be sent now: nothing until a sentence is complete and
    supported (greetings wait for the first supported sentence); `finish()` checks the rest and
    returns the verdict, whose `text` starts with everything already sent (`sent`) when an answer was
    found. When none was, nothing has been sent, and the verdict holds the quote or no text.
    """

    def __init__(self, checker: AnswerChecker, question: str, sources: list[Source]) -> None:
        self._checker = checker
        self._question = question
        self._sources = sources
        self._buffer = ""
        self._judged = 0
        self._context: CheckContext | None = None
        self._error: Exception | None = None
        self._ms = 0.0
        self.sent = ""

    def feed(self, text: str) -> str:
        judge = self.take(text)
        return judge() if judge is not None else ""

    def take(self, text: str) -> Callable[[], str] | None:
        """`feed` in two steps: keeps `text` and returns None when no sentence was completed (the
        common case, cheap), else the judging of the completed ones, which returns what `feed` would
        (it embeds: the async turn runs it in a worker thread)."""
        start = len(self._buffer)
        self._buffer += text
        if self._checker.mode != "checked" or self._error is not None:
            return None
        if not any(m.end() > start for m in _UNIT_STARTS.finditer(self._buffer, max(0, start - _LOOK_BACK))):
            return None  # No unit starts in this token, so none was completed: nothing new to judge.
        units = [u for u in split_reply(self._buffer) if u.text]
        # The last sentence may still grow; a list item is done when the next line starts.
        complete = units[:-1]
        if len(complete) <= self._judged:
            return None
        return lambda: self._run(
            lambda context: self._checker._judge_units(context, complete[self._judged :]), len(complete)
        )

    @property
    def gave_up(self) -> bool:
        """Whether the first `GIVE_UP_AFTER` claims were all dropped: the rest of the generation is
        not worth waiting for, the quote (or "I don't know") will be the answer."""
        context = self._context
        if context is None or context.claims:
            return False
        return sum(kind == "claim" for kind in context.kinds) >= GIVE_UP_AFTER

    def finish(self) -> Verdict:
        started = time.perf_counter()
        try:
            if self._error is not None:
                raise self._error
            context = self._ensure_context()
            if self._checker.mode == "checked":
                units = [u for u in split_reply(self._buffer) if u.text][self._judged :]
                if units and is_cut_off(units[-1], None if len(units) < 2 else units[-2]):
                    units.pop()
                self._checker._judge_units(context, units)
            verdict = self._checker._conclude(context)
        except Exception as exc:
            verdict = failed_verdict(exc)
        if self.sent and not (verdict.text or "").startswith(self.sent):
            # Never expected: what was sent stays the start of the stored reply.
            verdict.text = self.sent + (verdict.text or "")
        verdict.mode = self._checker.mode
        verdict.ms = self._ms + (time.perf_counter() - started) * 1000
        return verdict

    def _ensure_context(self) -> CheckContext:
        if self._context is None:
            self._context, _ = self._checker._prepare(self._question, self._sources, [])
        return self._context

    def _run(self, step: Callable[[CheckContext], None], judged: int) -> str:
        started = time.perf_counter()
        try:
            context = self._ensure_context()
            step(context)
            self._judged = judged
            out = self._release(context)
        except Exception as exc:  # Nothing more is sent; finish() answers with the no-answer reply.
            self._error = exc
            out = ""
        self._ms += (time.perf_counter() - started) * 1000
        return out

    def _release(self, context: CheckContext) -> str:
        kept = without_dangling_lead_ins(context.kept)
        if not any(u is c for u in kept for c in context.claims):
            return ""  # nothing but small talk and a lead-in: it may yet be the quote's turn
        if self._checker.uncovered_terms(context):
            return ""  # the question names something the reply has not spoken of yet: hold it
        text = join_units(kept)
        if not text.startswith(self.sent):
            return ""
        out, self.sent = text[len(self.sent) :], text
        return out
