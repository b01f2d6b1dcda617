"""How well each source sentence answers a question: closeness in meaning, plus the question's own words,
plus what kind of answer it asks for (a duration for "how long", a price for "how much", the sentence
that decides a yes/no question).

The embedding alone ranks "Delivered: the carrier has marked the package as delivered" above "If tracking
says delivered but you can't find it, wait 48 hours" for "tracking says delivered but nothing's at my
door": both are about delivery, only the second answers. The question's rarer words ("door"), weighted by
how few of the turn's sentences contain them, and the kind of fact asked for break such ties.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from grounding.claims import expected_yes, mentions, says_condition
from grounding.facts import (
    content_stems,
    extract_facts,
    fact_keys,
    fact_supported,
    name_supported,
    names,
    polarity,
)

# What a question asks for → the kinds of fact (grounding.facts.Fact.kind) an answer to it carries.
_ASKS = (
    (
        re.compile(r"\bhow (long|soon|quickly|fast)\b|\bwhen\b|\bhow many (days|weeks|months|hours|years)\b"),
        {
            "duration",
            "time",
        },
    ),
    (re.compile(r"\bhow much\b|\b(cost|costs|price|prices|fee|fees|charge|charges|spend)\b"), {"money"}),
    (re.compile(r"\bwhat time\b|\b(hours|open|opens|close|closes)\b"), {"time"}),
    (re.compile(r"\bhow many\b|\bpercent|\bdiscount\b"), {"number", "percent", "money"}),
    (re.compile(r"\bphone\b|\bcall (you|us)\b"), {"phone"}),
)
_YES_NO = re.compile(
    r"^\s*(?:\w+,\s*)?(do|does|did|can|could|is|are|was|will|would|should|may|have|has)\b", re.IGNORECASE
)

WORD_WEIGHT = 0.3  # a sentence with every (weighted) content word of the question gains this much
DECIDES_BONUS = 0.05  # a sentence that says yes or no to a yes/no question
MISS_MARGIN = 0.1  # kept sentences this much further from the question than a source sentence miss it


def asks_for(question: str) -> set[str]:
    """The kinds of fact an answer to `question` carries: {"duration", "time"} for "how long…"."""
    wanted: set[str] = set()
    text = question.lower()
    for pattern, kinds in _ASKS:
        if pattern.search(text):
            wanted |= kinds
    return wanted


def is_yes_no(question: str) -> bool:
    """ "do you…", "can I…", "is it…": a question a yes or a no answers (any clause of it)."""
    return any(_YES_NO.match(clause) for clause in re.split(r"[,;?]|\band\b|\bbut\b", question))


def _words(text: str) -> set[str]:
    """A sentence's content stems, and each one it negates once more as "not <stem>": "Are there items
    I can't return?" shares "not return" with "… can't be returned", not with "most items can be
    returned"."""
    return content_stems(text) | {"not " + s for s in polarity(text)[0]}


def relevance(
    questions: Sequence[str],
    contexts: Sequence[str],
    similarity: np.ndarray,
    headings: Sequence[str] | None = None,
) -> np.ndarray:
    """`similarity` (sentences × questions, cosine) raised by each question's words and wants.

    `contexts` are the sentences as matched (with their heading or lead-in); a sentence also has the
    words of the heading it stands under (`headings`): "Call 1-800-555-0142" under "Phone" answers
    "what's your phone number" more than "check that your phone number is correct" does. A word's
    weight is its inverse document frequency over them, so a word every sentence shares ("shipping" in
    a shipping article, a heading's words under it) counts for little and one only the answer has
    ("door") for much. A negated word is a word of its own (`_words`).
    """
    stems = [_words(c) | _words(h) for c, h in zip(contexts, headings or [""] * len(contexts), strict=True)]
    frequency = Counter(s for sentence in stems for s in sentence)
    total = len(contexts)
    out = np.array(similarity, dtype=np.float32, copy=True)
    facts = [{f.kind for f in extract_facts(c)} for c in contexts]
    for q, question in enumerate(questions):
        # A word no sentence has counts as the rarest: a sentence with the question's only common
        # word ("pay" of "can I pay in installments?") has not matched the question.
        asked = {s: math.log((1 + total) / (1 + frequency[s])) for s in _words(question)}
        wanted = asks_for(question)
        # What the question asks for counts as one more of its words, as rare as the sentences that
        # carry it: the one phone number among the sources weighs as much as "phone".
        carries = [bool(wanted & kinds) for kinds in facts]
        kind_weight = math.log((1 + total) / (1 + sum(carries))) if wanted else 0.0
        weight = sum(asked.values()) + kind_weight
        yes_no = is_yes_no(question)
        for j, sentence in enumerate(stems):
            bonus = 0.0
            if weight > 0:
                matched = sum(w for s, w in asked.items() if s in sentence) + (
                    kind_weight if carries[j] else 0
                )
                bonus += WORD_WEIGHT * matched / weight
            if yes_no and expected_yes(question, contexts[j]) is not None:
                bonus += DECIDES_BONUS
            out[j, q] += bonus
    return out


def misses_answer(
    question: str,
    claims: Sequence[str],
    claim_vectors: Sequence[np.ndarray],
    question_vectors: np.ndarray,
    source_matrix: np.ndarray,
    margin: float = MISS_MARGIN,
) -> str | None:
    """Why the kept `claims` do not answer `question` (None when they do).

    They miss it when the question asks for a duration, price or time and none of them states one,
    or when every one of them is further (by `margin`) from the question than the closest source
    sentence: a true sentence about something else.
    """
    wanted = asks_for(question)
    if wanted and not any(f.kind in wanted for c in claims for f in extract_facts(c)):
        return "asks for a " + " or ".join(sorted(wanted))
    if len(question_vectors) == 0 or not len(claim_vectors) or not source_matrix.size:
        return None
    kept = float(max(float(v @ question_vectors[0]) for v in claim_vectors))
    best = float((source_matrix @ question_vectors[0]).max())
    if kept < best - margin:
        return f"kept sentences {kept:.2f} from the question, the sources {best:.2f}"
    return None


def uncovered(
    terms: Sequence[str], term_vectors: np.ndarray, said: str, vectors: Sequence[np.ndarray], threshold: float
) -> list[str]:
    """The `terms` that `said` neither contains nor comes `threshold` close to (by any of its `vectors`)."""
    out = []
    for term, vector in zip(terms, term_vectors, strict=True):
        if mentions(said, term):
            continue
        if vectors and max(float(vector @ v) for v in vectors) >= threshold:
            continue
        out.append(term)
    return out


SAYS_SHARE = 1 / 3  # kept sentences say a source sentence when they share this much of the words it adds


def says(source: str, said: str, question: str, known: frozenset[str], close: bool) -> bool:
    """Whether the kept sentences (`said`) say what the source sentence that answers says: together they
    state its names (those not in `known`: the question's, the company's) and its numbers, durations,
    prices and times; a source sentence without any of those must be `close` (support-threshold similar)
    to one of them, state its condition, and share some of the words it adds to the question."""
    if not all(name_supported(n, known) for n in names(source)):
        return False
    facts = extract_facts(source)
    if facts:
        keys = fact_keys(extract_facts(said))
        return all(fact_supported(f, keys) for f in facts)
    if not says_condition(source, said, question) or not close:
        return False
    # "You can find the serial number on your order page" is close to "the serial number is on the
    # bottom of the product", and says something else: of the words the source sentence adds to the
    # question, the kept sentences must share some (none of one or two: "and have no fees").
    added = content_stems(source) - content_stems(question)
    return len(added & content_stems(said)) >= int(SAYS_SHARE * len(added))
