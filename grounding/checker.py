"""The answer check: every sentence of a reply against the excerpts and tool results of its turn."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from grounding import claims as said
from grounding.context import CheckContext
from grounding.extractive import (
    against_answer,
    choose_quote,
    format_quote,
    is_lead_in,
    is_pointer,
    neighbourhood,
)
from grounding.facts import (
    contradicts,
    extract_facts,
    fact_keys,
    fact_supported,
    name_supported,
    names,
    rare_words,
    tokens,
    vocabulary,
)
from grounding.ranking import misses_answer, says, uncovered
from grounding.sentences import (
    Unit,
    finish_sentences,
    join_units,
    sentence_key,
    split_reply,
    without_dangling_lead_ins,
)
from grounding.stored_vectors import StoredVectors
from grounding.streaming import CheckedReply
from grounding.vectors import SourceVectors
from grounding.verdict import AnswerMode, Embed, SentenceVerdict, Source, Verdict, failed_verdict

log = logging.getLogger(__name__)


# Greetings and pleasantries kept in one reply; more are dropped.
MAX_SMALL_TALK = 3


class AnswerChecker:
    """Checks a reply against its sources: keeps supported sentences, else quotes the sources, else says so.

    `embed` is `Embedder.embed_documents` (any function from texts to vectors). A sentence is kept
    when a source sentence is at least `support_threshold` similar to it, every number, price,
    duration and time in it appears in its closest source sentences, every name in it (with
    `common_words`, a rare lower-case word too: grounding.facts.rare_words) appears in some source
    (a name the customer used may be repeated in a sentence `name_margin` more similar),
    each statement it joins is `clause_threshold` similar to a source sentence, it says no more than
    its closest source sentence (grounding.claims.adds: three words of its own, an "at any time" the
    source lacks), and it does not negate what they assert (or the reverse). Greetings and small talk
    pass unchecked, up to `MAX_SMALL_TALK` of them. Kept sentences that miss the answer
    (grounding.ranking.misses_answer), or that do not say what the quote's best sentence says (its
    names, numbers and durations; `_says`), get the quote after them; with no supported sentence
    left, the answer is quoted from the sources (`max_quotes` sentences at least `answer_threshold`
    similar to the question, covering every name in the question that the sources lack by
    `term_threshold`), or, when they do not answer it, the verdict has no text.

    `check` judges a whole reply; `start` returns a `CheckedReply` that judges it sentence by
    sentence while it streams. Source sentences' vectors are cached (`cache_size`; `stored`: in the
    database, for every process), so a check usually embeds only the question and the reply's sentences.
    """

    def __init__(
        self,
        embed: Embed,
        *,
        mode: AnswerMode = "checked",
        support_threshold: float = 0.65,
        answer_threshold: float = 0.38,
        term_threshold: float = 0.3,
        name_margin: float = 0.1,
        clause_threshold: float = 0.55,
        max_quotes: int = 3,
        known_names: Iterable[str] = (),
        cache_size: int = 4096,
        stored: StoredVectors | None = None,
        common_words: Collection[str] | None = None,
    ) -> None:
        if mode not in ("checked", "generative", "extractive"):
            raise ValueError(f"unknown answer mode {mode!r}")
        self.mode: AnswerMode = mode
        self.support_threshold = support_threshold
        self.answer_threshold = answer_threshold
        self.term_threshold = term_threshold
        self.name_margin = name_margin
        self.clause_threshold = clause_threshold
        self.max_quotes = max_quotes
        self.known_names = vocabulary(" ".join(known_names))
        self.sources = SourceVectors(embed, cache_size=cache_size, stored=stored)
        self.common_words = frozenset(common_words) if common_words else None

    # -- the check --------------------------------------------------------------------------------

    def check(self, *, question: str, reply: str, sources: Sequence[Source]) -> Verdict:
        """The verdict on a whole `reply`; never raises (a failing check sends the no-answer reply)."""
        started = time.perf_counter()
        try:
            verdict = self._check(question or "", reply or "", list(sources))
        except Exception as exc:  # The turn must go on: an unchecked reply is not sent.
            verdict = failed_verdict(exc)
        verdict.mode = self.mode
        verdict.ms = (time.perf_counter() - started) * 1000
        return verdict

    def start(self, *, question: str, sources: Sequence[Source]) -> CheckedReply:
        """A reply to check while it is generated: `feed` it the tokens, send what `feed` returns."""
        return CheckedReply(self, question or "", list(sources))

    def _check(self, question: str, reply: str, sources: list[Source]) -> Verdict:
        cleaned = finish_sentences(reply)
        if self.mode == "generative":
            units = split_reply(cleaned)
            return Verdict(
                text=cleaned or None,
                fallback="none" if cleaned else "no_answer",
                sentences=[SentenceVerdict(u.text, True, "unchecked") for u in units],
            )
        units = split_reply(cleaned) if self.mode == "checked" else []
        claims = [said.claim_text(u.text) for u in units]
        kinds = [said.kind(u.text, self.known_names) for u in units]
        context, vectors = self._prepare(
            question, sources, [c for c, k in zip(claims, kinds, strict=True) if k == "claim"]
        )
        self._judge_units(context, units, iter(vectors))
        return self._conclude(context)

    def _prepare(
        self, question: str, sources: list[Source], texts: list[str]
    ) -> tuple[CheckContext, np.ndarray]:
        """Everything a reply is checked against, and `texts` embedded in the same call."""
        source_units = self.sources.units(sources)
        parts = said.question_parts(question)
        vocab = frozenset().union(*(vocabulary(s.title + " " + s.text) for s in sources))
        terms = said.missing_terms(question, vocab | self.known_names)
        fresh, matrix = self.sources.embed_with(texts + parts + terms, source_units)
        context = CheckContext(
            question=question,
            sources=sources,
            units=source_units,
            matrix=matrix,
            vocab=vocab,
            parts=fresh[len(texts) : len(texts) + len(parts)],
            terms=terms,
            term_vectors=fresh[len(texts) + len(parts) :],
            pointers=np.array(
                [is_pointer(su.unit) or is_lead_in(su.unit) for su in source_units], dtype=bool
            ),
        )
        return context, fresh[: len(texts)]

    def _judge_units(
        self, context: CheckContext, units: list[Unit], vectors: Iterator[np.ndarray] | None = None
    ) -> None:
        """Judge `units` in order, adding to the context's verdicts and kept sentences."""
        kinds = [said.kind(u.text, self.known_names) for u in units]
        claims = [said.claim_text(u.text) for u in units]
        if vectors is None:
            wanted = [c for c, k in zip(claims, kinds, strict=True) if k == "claim"]
            vectors = iter(self.sources.embed_with(wanted, [])[0] if wanted else [])
        for unit, kind, claim in zip(units, kinds, claims, strict=True):
            context.kinds.append(kind)
            key = sentence_key(unit.text)
            if key and key in context.seen:
                context.verdicts.append(SentenceVerdict(unit.text, False, "repeat"))
                if kind == "claim":
                    next(vectors)
                continue
            context.seen.add(key)
            if kind == "small_talk" and context.kinds.count("small_talk") > MAX_SMALL_TALK:
                # "You're right! I'm glad about that. … Thank you again for the help.": a small model
                # rambles on in pleasantries; a greeting and a closing line are enough.
                context.verdicts.append(SentenceVerdict(unit.text, False, "small_talk_limit"))
                continue
            if kind != "claim":
                verdict = SentenceVerdict(
                    unit.text, kind == "small_talk", kind, detail=said.DETAILS.get(kind)
                )
                context.verdicts.append(verdict)
                if kind == "small_talk":
                    context.kept.append(unit)
                continue
            vector = next(vectors)
            if any(float(vector @ v) > 0.95 for v in context.kept_vectors):
                context.verdicts.append(SentenceVerdict(unit.text, False, "repeat"))
                continue
            verdict, text = self._judge(context, unit, claim, vector)
            if verdict.kept and (against := self._against_answer(context, claim, verdict.source_sentence)):
                verdict.kept, (verdict.reason, verdict.detail) = False, against
            context.verdicts.append(verdict)
            if verdict.kept:
                context.answered = True
                kept = Unit(raw=text, text=text, context=text, block=unit.block, prefix=unit.prefix)
                context.kept.append(kept)
                context.claims.append(kept)
                context.kept_vectors.append(vector)

    def _conclude(self, context: CheckContext) -> Verdict:
        """The reply from the kept sentences (with the quote when they miss the answer), else the quote,
        else no answer; citing the sources of its kept sentences and of its quote."""
        verdict, quoted = self._decide(context)
        used = [v.source_index for v in verdict.sentences if v.kept and v.source_index is not None]
        used += [context.units[j].source for j in quoted]
        verdict.cited = sorted(set(used))
        return verdict

    def _decide(self, context: CheckContext) -> tuple[Verdict, list[int]]:
        """The verdict, and the source sentences it quotes."""
        verdicts = context.verdicts
        kept = without_dangling_lead_ins(context.kept)
        claims = [u for u in kept if any(u is c for c in context.claims)]
        uncovered = self.uncovered_terms(context)
        if claims and uncovered:
            # "We ship to every province in Canada" is true, but not an answer to "do you ship to
            # australia": the reply must speak of what the question names, or the quote must.
            for verdict in context.verdicts:
                if verdict.kept and verdict.reason == "supported":
                    verdict.kept, verdict.reason = False, "off_question"
                    verdict.detail = "does not mention " + ", ".join(uncovered)
            kept, claims = [u for u in kept if not any(u is c for c in context.claims)], []
        if claims:
            # Kept sentences are true to the sources, but may not be the answer ("Our free shipping
            # threshold varies" for "how much do I have to spend?"): then the quote follows them.
            text = join_units(kept)
            missing = misses_answer(
                context.question,
                [u.text for u in claims],
                context.kept_vectors,
                context.parts,
                context.matrix,
            )
            chosen, info = self._choose(context)
            if missing is None and chosen is not None and not self._says(context, chosen[0]):
                # "You can cancel your order at any time" is close to a source sentence, but the one that
                # answers says "once it is packed it can no longer be cancelled": the quote follows.
                missing = "the kept sentences do not say what the answering source sentence says"
            if missing is None:
                return Verdict(text=text, fallback="none", sentences=verdicts), []
            info["appended"] = missing
            if chosen is None:
                return Verdict(text=text, fallback="none", sentences=verdicts, quote=info), []
            quote = format_quote(chosen, context.units, context.sources)
            appended = Verdict(f"{text}\n\n{quote}", "none", verdicts, quote=info, said=text)
            return appended, chosen
        if (
            context.kept
            and all(k == "small_talk" for k in context.kinds)
            and said.kind(context.question, self.known_names) == "small_talk"
        ):
            # "thanks!" → "You're welcome!": nothing to check and nothing to quote.
            return Verdict(text=join_units(context.kept), fallback="none", sentences=verdicts), []
        chosen, info = self._choose(context)
        if chosen is None:
            return Verdict(text=None, fallback="no_answer", sentences=verdicts, quote=info), []
        quote = format_quote(chosen, context.units, context.sources)
        return Verdict(text=quote, fallback="extractive", sentences=verdicts, quote=info), chosen

    def uncovered_terms(self, context: CheckContext) -> list[str]:
        """The question's names that no source has and the kept sentences neither say nor come close to."""
        said_text = " ".join(u.text for u in context.claims)
        return uncovered(
            context.terms, context.term_vectors, said_text, context.kept_vectors, self.term_threshold
        )

    def _choose(self, context: CheckContext) -> tuple[list[int] | None, dict[str, Any]]:
        return choose_quote(
            self,
            said.question_parts(context.question),
            context.parts,
            context.matrix,
            context.units,
            context.terms,
            context.term_vectors,
        )

    def _against_answer(
        self, context: CheckContext, claim: str, closest: str | None
    ) -> tuple[str, str] | None:
        """Why a supported `claim` may still not stand beside the sentences that answer the question
        (those a quote would be made of): grounding.extractive.against_answer."""
        if context.answer is None:
            context.answer = self._choose(context)[0] or []
        return against_answer(claim, [context.units[j] for j in context.answer], context.sources, closest)

    def _says(self, context: CheckContext, unit: int) -> bool:
        """Whether the kept sentences say what source sentence `unit` says (grounding.ranking.says)."""
        said_text = " ".join(u.text for u in context.claims)
        known = vocabulary(said_text + " " + context.question) | self.known_names
        row = context.matrix[unit]
        close = any(float(row @ v) >= self.support_threshold for v in context.kept_vectors)
        return says(context.units[unit].unit.text, said_text, context.question, known, close)

    def _judge(
        self, context: CheckContext, unit: Unit, claim: str, vector: np.ndarray
    ) -> tuple[SentenceVerdict, str]:
        question, source_units, sources = context.question, context.units, context.sources
        text = unit.text
        if not source_units:
            return SentenceVerdict(text, False, "no_sources"), text
        scores = np.where(context.pointers, -1.0, context.matrix @ vector)
        order = np.argsort(-scores)
        best = int(order[0])
        best_score = float(scores[best])
        closest = source_units[best]
        verdict = SentenceVerdict(
            text,
            False,
            "low_similarity",
            score=best_score,
            source=sources[closest.source].title,
            source_sentence=closest.unit.text,
            source_index=closest.source,
        )
        # Names: capitalised words, and rare lower-case ones ("afterpay"), that no source has.
        vocab = context.vocab | self.known_names
        unknown = [n for n in names(claim) if not name_supported(n, vocab)]
        unknown += [w for w in rare_words(claim, self.common_words) if w not in vocab]
        # So may a word of the question that no source has ("sofa"): grounding.claims.missing_terms.
        named = {n.lower() for n in unknown}
        unknown += [t for t in context.terms if said.mentions(claim, t) and t not in named]
        asked = set(tokens(question)) | set(context.terms)
        if [n for n in unknown if n.lower() not in asked]:
            verdict.reason, verdict.detail = "name", ", ".join(unknown)
            return verdict, text
        if unknown and best_score < self.support_threshold + self.name_margin:
            # A name the customer used ("Toronto") may be repeated, but only in a sentence that is
            # clearly about what a source says ("we ship to every province in Canada").
            verdict.reason, verdict.detail = "name", ", ".join(unknown)
            return verdict, text
        if best_score < self.support_threshold:
            return verdict, text
        # The closest sentences (and their neighbours, which often carry the number) are the evidence.
        candidates = [
            int(j) for j in order[:3] if scores[j] >= max(self.support_threshold, best_score - 0.12)
        ]
        evidence = neighbourhood(candidates, source_units)
        keys = fact_keys([f for j in evidence for f in extract_facts(source_units[j].unit.context)])
        missing = [f.surface for f in extract_facts(claim) if not fact_supported(f, keys)]
        if missing:
            verdict.reason, verdict.detail = "number", ", ".join(missing)
            return verdict, text
        conflict = None
        for j in candidates:
            conflict = contradicts(claim, source_units[j].unit.context)
            if conflict is None:
                closest = source_units[j]
                verdict.score, verdict.source_sentence = float(scores[j]), closest.unit.text
                verdict.source, verdict.source_index = sources[closest.source].title, closest.source
                break
        if conflict is not None:
            verdict.reason, verdict.detail = "negation", conflict
            return verdict, text
        if more := said.adds(claim, closest.unit.context, context.vocab, question):
            verdict.reason, verdict.detail = more
            return verdict, text
        if more := said.strays(claim, [source_units[j].unit.context for j in evidence], question):
            verdict.reason, verdict.detail = more
            return verdict, text
        if parts := said.clauses(claim):
            # "The customer's own words follow them; you can exchange an item…": the whole is close to
            # its source, the first statement to none.
            closeness = np.where(
                context.pointers[:, None], -1.0, context.matrix @ self.sources.embed_with(parts, [])[0].T
            )
            weak = [p for p, c in zip(parts, closeness.max(axis=0), strict=True) if c < self.clause_threshold]
            if weak:
                verdict.reason, verdict.detail = "clause", "; ".join(weak)
                return verdict, text
        verdict.kept, verdict.reason = True, "supported"
        answer = said.YES_NO.match(text)
        if answer:
            said_yes = answer.group(1).lower() in ("yes", "yeah", "yep")
            expected_yes = said.expected_yes(question, closest.unit.context)
            if expected_yes is not None and expected_yes != said_yes:
                text = text[answer.end() :].strip()
                text = text[:1].upper() + text[1:]
                verdict.detail = f"dropped '{answer.group(1)}': the source says the opposite"
        return verdict, text
