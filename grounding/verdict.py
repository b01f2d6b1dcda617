"""What the answer check works on and decides: sources, and the verdict per sentence and per reply."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

AnswerMode = Literal["checked", "generative", "extractive"]
Fallback = Literal["none", "extractive", "no_answer"]
Embed = Callable[[list[str]], list[list[float]]]


@dataclass(frozen=True)
class Source:
    """One retrieved excerpt or one tool result the reply may draw on."""

    title: str
    text: str
    document: str | None = None  # the document id; None for a tool result


@dataclass
class SentenceVerdict:
    """What the check decided for one sentence of the reply, and why."""

    text: str
    kept: bool
    reason: str  # supported | small_talk | unsupported | low_similarity | number | name | negation | …
    score: float | None = None
    source: str | None = None  # the title of the closest source
    source_sentence: str | None = None
    source_index: int | None = None  # the closest source's position in the sources checked against
    detail: str | None = None


@dataclass
class Verdict:
    """The reply to send (None: send the no-answer reply and offer a human) and how it was reached."""

    text: str | None
    fallback: Fallback
    sentences: list[SentenceVerdict] = field(default_factory=list)
    mode: AnswerMode = "checked"
    ms: float = 0.0
    error: str | None = None
    quote: dict[str, Any] | None = None  # how the extractive answer was chosen (or why there is none)
    cited: list[int] = field(default_factory=list)  # the sources the text draws on (their positions)
    # The model's kept sentences alone, when `text` adds a quote after them (the quote follows sentences
    # that do not say what the answering source sentence says).
    said: str | None = None

    def trace(self) -> dict[str, Any]:
        """A JSON-able summary for the turn trace."""
        out: dict[str, Any] = {
            "mode": self.mode,
            "fallback": self.fallback,
            "ms": round(self.ms, 1),
            "kept": sum(1 for s in self.sentences if s.kept),
            "dropped": sum(1 for s in self.sentences if not s.kept),
            "sentences": [
                {
                    k: (round(v, 3) if isinstance(v, float) else v)
                    for k, v in asdict(s).items()
                    if v is not None
                }
                for s in self.sentences
            ],
        }
        if self.cited:
            out["cited"] = self.cited
        if self.quote is not None:
            out["quote"] = self.quote
        if self.error:
            out["error"] = self.error
        return out


def failed_verdict(exc: Exception) -> Verdict:
    log.exception("The answer check failed")
    return Verdict(text=None, fallback="no_answer", error=f"{type(exc).__name__}: {exc}")
