"""The answer check as bench/answers.py runs it: every mode judges what the turn handed its checker.

`Recorder` stands in for the agent's checker: the mode under test answers the turn, and the other modes'
checkers are applied to the same question, reply and sources, each call recorded for `--save`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field


@dataclass
class Recorder:
    """Stands in for the agent's checker: runs the mode under test and applies the others to the same input."""

    checkers: dict
    primary: str
    calls: list[dict] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return self.primary

    @property
    def known_names(self) -> frozenset[str]:
        return self.checkers[self.primary].known_names

    @known_names.setter
    def known_names(self, names: frozenset[str]) -> None:
        # The turn copies its checker to add the prompts' names (agents/checking.py): so do we, per mode.
        self.checkers = {m: copy.copy(c) for m, c in self.checkers.items()}
        for checker in self.checkers.values():
            checker.known_names = names

    def start(self, *, question, sources):
        return _RecordingReply(
            self, question, sources, self.checkers[self.primary].start(question=question, sources=sources)
        )

    def check(self, *, question, reply, sources):
        verdicts = {
            m: c.check(question=question, reply=reply, sources=sources) for m, c in self.checkers.items()
        }
        self.calls.append(
            {
                "raw": reply,
                "sources": [s.text for s in sources],
                "titles": [[s.title, s.document] for s in sources],
                "verdicts": verdicts,
            }
        )
        return verdicts[self.primary]


@dataclass
class _RecordingReply:
    """The primary mode's reply checked while it streams; at the end every mode judges the whole reply."""

    recorder: Recorder
    question: str
    sources: list
    checking: object
    raw: str = ""

    @property
    def sent(self) -> str:
        return self.checking.sent

    @property
    def gave_up(self) -> bool:
        return self.checking.gave_up

    def feed(self, text: str) -> str:
        self.raw += text
        return self.checking.feed(text)

    def take(self, text: str):
        """`feed` in two steps, as the turn calls it (grounding.streaming.CheckedReply.take)."""
        self.raw += text
        return self.checking.take(text)

    def finish(self):
        primary = self.checking.finish()
        verdicts = {
            m: primary
            if m == self.recorder.primary
            else c.check(question=self.question, reply=self.raw, sources=self.sources)
            for m, c in self.recorder.checkers.items()
        }
        self.recorder.calls.append(
            {
                "raw": self.raw,
                "sources": [s.text for s in self.sources],
                "titles": [[s.title, s.document] for s in self.sources],
                "verdicts": verdicts,
            }
        )
        return primary


def demo_checker(embedder, mode: str, words: frozenset[str], company: str = "Northwind Goods"):
    """The answer check for the demo company (or `company`), as app.py builds it (without the stored
    vectors)."""
    from grounding import AnswerChecker

    return AnswerChecker(embedder.embed_documents, mode=mode, known_names=[company], common_words=words)
