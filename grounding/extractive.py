"""The extractive fallback: when no sentence of a reply holds, quote the source sentences that answer
the question (one to `max_quotes`, each part of a two-part question its own), with their titles."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from grounding.facts import (
    content_stems,
    contradicts,
    extract_facts,
    fact_keys,
    fact_supported,
    names,
    polarity,
    stem,
    tokens,
)
from grounding.ranking import relevance
from grounding.sentences import Unit
from grounding.verdict import Source

if TYPE_CHECKING:
    from grounding.checker import AnswerChecker


@dataclass(frozen=True)
class SourceUnit:
    unit: Unit
    source: int
    position: int


def choose_quote(
    checker: AnswerChecker,
    parts: list[str],
    part_vectors: np.ndarray,
    matrix: np.ndarray,
    source_units: list[SourceUnit],
    missing_terms: list[str],
    term_vectors: np.ndarray,
) -> tuple[list[int] | None, dict[str, Any]]:
    """The source sentences (indices into `source_units`, the best answer first) a quote is made of, or
    None when the sources do not answer; and how they were chosen, for the trace."""
    info: dict[str, Any] = {}
    eligible = [j for j, su in enumerate(source_units) if quotable(su.unit)]
    if not eligible or len(part_vectors) == 0:
        info["why_none"] = "no source sentence to quote"
        return None, info
    closeness = matrix[eligible] @ np.asarray(part_vectors).T  # sentences × question parts
    # Closeness in meaning decides whether the sources answer at all; the ranking adds the question's
    # words and what it asks for (grounding.ranking), which picks the sentence that answers.
    scores = relevance(
        parts,
        [source_units[j].unit.context for j in eligible],
        closeness,
        [source_units[j].unit.heading for j in eligible],
    )
    info["score"] = round(float(closeness[:, 0].max()), 3)
    if float(closeness[:, 0].max()) < checker.answer_threshold:
        info["why_none"] = "no source sentence is close enough to the question"
        return None, info
    close = closeness >= checker.answer_threshold
    whole = np.where(close[:, 0], scores[:, 0], -np.inf)
    best = int(np.argmax(whole))
    chosen = [best]
    # The next sentence of the same paragraph often finishes the answer ("Points don't expire as long
    # as your account is active. If you go 12 months without an order, they expire."): it comes
    # along when it shares a word with the question.
    after = eligible[best] + 1
    if after in eligible and continues(source_units[eligible[best]], source_units[after], parts[0]):
        chosen.append(eligible.index(after))
    # Each further part of a two-part question brings its own best sentence.
    for p in range(1, scores.shape[1]):
        j = int(np.argmax(np.where(close[:, p], scores[:, p], -np.inf)))
        if close[j, p] and j not in chosen:
            chosen.append(j)
    for j in np.argsort(-whole):
        if len(chosen) >= checker.max_quotes:
            break
        j = int(j)
        if j not in chosen and float(whole[j]) >= float(whole[best]) - 0.08:
            chosen.append(j)
    chosen_units = with_antecedents(
        with_list_items([eligible[j] for j in chosen[: checker.max_quotes]], source_units), source_units
    )
    if missing_terms:
        # A word of the question that no source contains ("berlin") must at least be close in
        # meaning to what is quoted ("toronto" to "Canada"), or the quote answers another question.
        covered = (np.asarray(term_vectors) @ matrix[chosen_units].T).max(axis=1)
        info["terms"] = {t: round(float(c), 3) for t, c in zip(missing_terms, covered, strict=True)}
        if float(covered.min()) < checker.term_threshold:
            info["why_none"] = "the sources do not mention " + ", ".join(
                t for t, c in zip(missing_terms, covered, strict=True) if c < checker.term_threshold
            )
            return None, info
    info["sentences"] = [source_units[j].unit.text for j in chosen_units]
    return chosen_units, info


def format_quote(chosen: list[int], source_units: list[SourceUnit], sources: list[Source]) -> str:
    """The `chosen` source sentences in their articles' order, quoted per article with its title (the
    parts from two excerpts of one article joined by "…"); a tool's result (a source without a
    document) whole."""
    # A tool's result is a record (an order, a sum): quoted whole, so that the carrier and the
    # tracking number come with the status the question matched.
    records = {source_units[j].source for j in chosen if sources[source_units[j].source].document is None}
    whole = {j for j, su in enumerate(source_units) if su.source in records}
    chosen_units = sorted(
        set(chosen) | whole, key=lambda j: (source_units[j].source, source_units[j].position)
    )
    # Two excerpts of one article are one quote, its parts in the order the excerpts were found.
    articles: dict[object, list[int]] = {}
    for index in dict.fromkeys(source_units[j].source for j in chosen_units):
        articles.setdefault(sources[index].document or ("record", index), []).append(index)
    lines: list[str] = []
    for indices in articles.values():
        parts = [_quoted(index, chosen_units, source_units) for index in indices]
        source = sources[indices[0]]
        lines.append(quote_line(source.title, " … ".join(parts), article=source.document is not None))
    return "\n\n".join(lines)


def quote_line(title: str, text: str, *, article: bool = True) -> str:
    """`text` quoted as what a source says: 'Our *Returns Policy* article says: “…”', or a record's
    '*Your order* says: “…”'."""
    title = title.strip() or "our help center"
    who = f"Our *{title}* article" if article else f"*{title}*"
    return f"{who} says: “{text}”"


def _quoted(index: int, chosen_units: list[int], source_units: list[SourceUnit]) -> str:
    """The chosen sentences of source `index`, in order; a list item with its lead-in, once."""
    quoted: list[str] = []
    intros: set[str] = set()
    for j in chosen_units:
        unit = source_units[j].unit
        if source_units[j].source != index:
            continue
        # A list item is quoted with its lead-in ("What It Doesn't Cover: water damage"), once.
        intro = unit.context[: -len(unit.text)] if unit.prefix and unit.context != unit.text else ""
        quoted.append(as_sentence(unit.text if intro in intros or not intro else unit.context))
        intros.add(intro)
        if unit.text.rstrip().endswith(":"):  # a quoted lead-in: its items follow without it
            intros.add(unit.text.rstrip()[:-1] + ": ")
    return " ".join(quoted)


def continues(first: SourceUnit, then: SourceUnit, question: str) -> bool:
    """Whether `then` follows `first` in its paragraph and shares a content word with `question`."""
    if then.source != first.source or then.unit.block != first.unit.block or then.unit.prefix:
        return False
    return bool(content_stems(question) & content_stems(then.unit.context))


def with_list_items(chosen: list[int], source_units: list[SourceUnit], most: int = 4) -> list[int]:
    """`chosen` with the list under each chosen lead-in ("Before contacting us, please:"), `most` items;
    and with the other items of a short list (`most` items or fewer) one of whose items is chosen: "UPS
    handles larger packages" alone does not answer "which carriers do you use" (USPS and FedEx do too)."""
    out: list[int] = []
    for j in chosen:
        lead_in = source_units[j].unit.text.rstrip()
        if lead_in.endswith(":"):
            items = list(range(j + 1, min(j + 1 + most, len(source_units))))
            items = items[
                : next((n for n, k in enumerate(items) if not _same_list(source_units, j, k)), None)
            ]
            group = [j, *items]
        elif source_units[j].unit.prefix:
            siblings = _list_of(j, source_units)
            group = [j, *(k for k in siblings if k != j)] if len(siblings) <= most else [j]
        else:
            group = [j]
        out.extend(k for k in group if k not in out and (k == j or k not in chosen))
    return out


def _same_list(source_units: list[SourceUnit], lead_in: int, k: int) -> bool:
    item = source_units[k]
    return item.source == source_units[lead_in].source and bool(item.unit.prefix)


def _list_of(j: int, source_units: list[SourceUnit]) -> list[int]:
    """The items of the list that item `j` is in (same source and lead-in, one after another)."""
    unit = source_units[j].unit
    lead = unit.context[: len(unit.context) - len(unit.text)]

    def sibling(k: int) -> bool:
        other = source_units[k]
        return (
            other.source == source_units[j].source
            and bool(other.unit.prefix)
            and other.unit.context[: len(other.unit.context) - len(other.unit.text)] == lead
        )

    first, last = j, j
    while first > 0 and sibling(first - 1):
        first -= 1
    while last + 1 < len(source_units) and sibling(last + 1):
        last += 1
    return list(range(first, last + 1))


# A sentence that leans on the one before it: "These take 5–10 business days" (oversized items), "If you
# don't, most items can be returned" (love what you bought), "After that, the fee is not refundable"
# (after what?). Quoted alone it says something else, or nothing.
_LEANS_BACK = re.compile(
    r"^(these|those|they|it|its|their|them|otherwise|however|also|if (you|it|they) (don't|do not|can't)"
    r"|if not|in (that|this) case|this (one|way)|that way|(after|before|until|by|from) (that|then|this)"
    r"|at that (point|time)|then|even so|instead|that means|this means)\b",
    re.IGNORECASE,
)


# A sentence that names what the one before it said: "Overnight Shipping is not available to these
# addresses" (Alaska, Hawaii…).
_POINTS_BACK = re.compile(r"\b(these|those|such)\s+[a-z]+", re.IGNORECASE)


def with_antecedents(chosen: list[int], source_units: list[SourceUnit]) -> list[int]:
    """`chosen` with the sentence right before each one that leans on it (same paragraph)."""
    out: list[int] = []
    for j in chosen:
        unit, k = source_units[j], j - 1
        before = source_units[k] if k >= 0 else None
        if (
            before is not None
            and k not in chosen
            and k not in out
            and (_LEANS_BACK.match(unit.unit.text) or _POINTS_BACK.search(unit.unit.text))
            and before.source == unit.source
            and before.position == unit.position - 1
            and before.unit.block == unit.unit.block
            and not unit.unit.prefix
            and quotable(before.unit)
        ):
            out.append(k)
        out.append(j)
    return out


_POINTER = re.compile(r"\b[Ss]ee (?:our |the )?[A-Z]")  # "see Shipping to Canada", not "see a charge"
_ABOUT = re.compile(r"^(?:this article|here's how|here is how)\b", re.IGNORECASE)
_ASIDE = re.compile(r"\(see [^)]*\)", re.IGNORECASE)


def _same_polarity(conflict: str, source: str) -> bool:
    """Whether `source` says the conflicting word as the claim does: negated for "not cancel",
    asserted for "cancel" (grounding.facts.contradicts)."""
    negated, asserted = polarity(source)
    word = conflict.removeprefix("not ")
    return word in (negated if conflict.startswith("not ") else asserted)


@lru_cache(maxsize=16384)
def is_pointer(unit: Unit) -> bool:
    """A sentence that sends the reader to an article ("For orders going to Canada, see Shipping to
    Canada.") or says what this one is about: it states no policy, so it supports no claim. An aside
    ("… as US customers (see Returns Policy).") does not make its sentence a pointer."""
    text = _ASIDE.sub("", unit.text)
    return bool(_POINTER.search(text) or _ABOUT.match(text))


def is_lead_in(unit: Unit) -> bool:
    """A short line that introduces a list ("Please note before you delete:"): it says nothing until
    its items do, so it supports no claim (its items, read with it, may). One that states something
    ("You can exchange an item for another variant of the same product, for example:") does."""
    return unit.text.rstrip().endswith(":") and len(content_stems(unit.text)) < 4


@lru_cache(maxsize=16384)
def quotable(unit: Unit) -> bool:
    """A sentence that can answer on its own (a lead-in brings its list): not a pointer to another article."""
    text = unit.text
    # A list item is read with its lead-in ("Before contacting us, please: Wait 48 hours."), a short
    # lead-in with its heading ("If a Code Doesn't Work: Check that:").
    if len(tokens(unit.context if unit.prefix or text.rstrip().endswith(":") else text)) < 4:
        return False
    return not re.match(
        r"^(this article|see |for (prices|orders|more)|here's how|here is how)", text, re.IGNORECASE
    )


def as_sentence(text: str) -> str:
    """`text` ending as a sentence: a full stop added unless it has one (before a closing quote too:
    'All Canadian orders ship "duties paid."')."""
    text = text.strip().rstrip(",;")
    return text if re.search(r"[.!?…:][\"'”’)\]*]*$", text) else text + "."


def neighbourhood(indices: list[int], source_units: list[SourceUnit]) -> set[int]:
    """`indices` and the sentences next to them in the same source (which often carry the number)."""
    out: set[int] = set()
    for j in indices:
        out.add(j)
        for k in (j - 1, j + 1):
            if 0 <= k < len(source_units) and source_units[k].source == source_units[j].source:
                out.add(k)
    return out


def against_answer(
    claim: str, answer: list[SourceUnit], sources: list[Source], closest: str | None
) -> tuple[str, str] | None:
    """Why a supported `claim` may still not stand beside the `answer` sentences (those a quote would
    be made of), as (reason, detail); None when it may.

    It negates what one of them asserts, or the reverse ("You can cancel your order at any time"
    is close to "for 1 hour you can cancel it", and the sentence that answers says "once packed,
    it can no longer be cancelled"); or it stands for one of them (`closest`) without any of its
    numbers ("Shipping to Canada is free of charge" for "Cost: CA$14.99, free on orders of CA$129 or more").
    A claim that negates (or asserts) a word as its `closest` does, where `closest` is one of them,
    agrees with the answer, even where another of them, for another case, says the opposite ("once
    shipped, it can no longer be cancelled" beside "occasionally we must cancel an order ourselves").
    """
    claimed = fact_keys(extract_facts(claim))
    sided = next((su.unit.context for su in answer if closest is not None and su.unit.text == closest), None)
    for su in answer:
        source, text = su.unit.context, su.unit.text
        conflict = contradicts(claim, source)
        if conflict and sided is not None and _same_polarity(conflict, sided):
            conflict = None
        # What is negated in a sentence that answers is an action or a state ("can no longer be
        # cancelled"), not a name in its scope ("not available to Canada").
        if conflict and stem(conflict.removeprefix("not ")) not in {stem(n) for n in names(source)}:
            return "negation", f"{conflict} (against the answer: {text})"
        # (An order record's lines are told whole when the reply leaves them out: agents/told.py.)
        facts = extract_facts(text) if text == closest and sources[su.source].document is not None else []
        if facts and not any(fact_supported(f, claimed) for f in facts):
            return "partial", f"without the numbers of the answer: {text}"
    return None
