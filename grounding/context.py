"""What one reply's check knows while it judges the reply (grounding/checker.py fills it in; the
streamed check, grounding/streaming.py, keeps it between the sentences it is fed)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grounding.extractive import SourceUnit
from grounding.sentences import Unit
from grounding.verdict import SentenceVerdict, Source


@dataclass
class CheckContext:
    """One reply's check in progress: what it is checked against, and what was decided so far."""

    question: str
    sources: list[Source]
    units: list[SourceUnit]
    matrix: np.ndarray
    vocab: frozenset[str]
    parts: np.ndarray  # the question and its parts, embedded
    terms: list[str]  # names in the question that no source contains
    term_vectors: np.ndarray
    # Source sentences that send the reader to another article ("…, see Shipping to Canada."), and
    # lines that introduce a list ("Please note before you delete:"): close to any sentence on their
    # subject, they support none (grounding.extractive.is_pointer, is_lead_in).
    pointers: np.ndarray
    verdicts: list[SentenceVerdict] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    kept: list[Unit] = field(default_factory=list)
    kept_vectors: list[np.ndarray] = field(default_factory=list)
    claims: list[Unit] = field(default_factory=list)  # the kept sentences that are claims, not small talk
    seen: set[str] = field(default_factory=set)
    answer: list[int] | None = None  # the source sentences that answer the question (a quote's)
    answered: bool = False
