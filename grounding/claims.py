"""What a reply's sentence says, before it is compared with the sources: small talk, a hedge ("I
don't know"), a quote of a source made up by the model, or a claim; the claim without its
"Yes,"/greeting; the parts of a question, and the names and things it asks about that the sources lack;
and the yes or no a source gives to it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from grounding.facts import (
    STOPWORDS,
    content_stems,
    extract_facts,
    is_negated,
    name_supported,
    names,
    polarity,
    stem,
    tokens,
)

SMALL_TALK = re.compile(
    r"\b(hi|hello|hey( there)?|good (morning|afternoon|evening)|greetings|thanks?( you)?( so much)?( for "
    r"(reaching out|contacting us|asking|your (question|patience|message))( to us)?)?|you'?re welcome|"
    r"my pleasure|no problem|glad (i could|to) help|happy to help|i('d| would) be happy to help( you)?( with "
    r"that)?|i hope (this|that) helps|hope (this|that) helps|have a (great|nice|good|wonderful) day|"
    r"is there anything else( i can help (you )?with)?|anything else i can (help|do)( you)?( with)?|"
    r"let me know if you have (any )?(other|more)? ?questions|feel free to ask|"
    r"(i'?m|i am|we'?re|we are) sorry( to hear (that|about that|this))?|i understand( your frustration)?|"
    r"i apologi[sz]e( for the inconvenience)?|great question|good question|sure|certainly|of course|"
    r"absolutely|okay|ok|welcome to (?:our )?[\w&'-]+(?: [\w&'-]+){0,2}(?=[!.,])|how can i (help|assist)( you)?( today)?|"
    r"(would you like|do you want) me to connect you (with|to) a human( agent)?|"
    r"i can connect you (with|to) a human( agent)?)\b[\s,.!?:;'-]*",
    re.IGNORECASE,
)
HEDGE = re.compile(
    r"\b(i (do not|don't|dont) know|i'?m not (sure|certain)|i am not (sure|certain)|i (could not|couldn't|"
    r"can't|cannot) (find|answer|help)|i (do not|don't) have (that |this |any |enough )?(information|"
    r"details)|(there is|there's) no information|not (able|sure) (to|if|whether)|unable to (find|answer|"
    r"help)|i'?m (just )?an ai|as an ai)\b",
    re.IGNORECASE,
)
# "Our Shipping article says: “…" or "lookup_order says: '…'": only the check quotes the sources
# (grounding/extractive.py); a model that imitates its quotes can put anything between the marks.
QUOTE_LEAD = re.compile(r"\bsays?\s*:\s*[\"“”'‘*]", re.IGNORECASE)
YES_NO = re.compile(r"^(yes|yeah|yep|no|nope)\b[\s,.!:;—-]*", re.IGNORECASE)
# Why a sentence of a kind other than a claim is dropped, where the kind alone does not say it.
DETAILS = {
    "yes_no": "a bare yes or no: only a sentence that says what the sources say can answer",
    "about_article": "says what an article is about, not what it says",
}
# "This article explains how to see, download, … your data.": an article's own summary of itself,
# copied into a reply. True of the article, and no answer to anything the customer asked.
ABOUT_ARTICLE = re.compile(
    r"^(?:this|the|that|our|the following) (?:article|page|guide|section|help[- ]center article)s? "
    r"(?:explains?|lists?|describes?|covers?|tells?|shows?|outlines?|is about|will (?:explain|show))\b",
    re.IGNORECASE,
)
QUESTION_PARTS = re.compile(
    r"\?+\s*|\s+(?:and also|also|and|plus)\s+(?=(?:what|how|when|where|why|can|do|does|is|are|will|which|who)\b)",
    re.IGNORECASE,
)


def kind(text: str, known_names: frozenset[str]) -> str:
    """small_talk, hedge ("I don't know"), quote (a sentence presented as a quotation of a source),
    about_article ("This article explains …"), yes_no (a bare "Yes." or "No, you cannot.") or claim;
    `known_names` (the company's) keep a greeting small talk."""
    if QUOTE_LEAD.search(text):
        return "quote"
    if ABOUT_ARTICLE.match(text):
        return "about_article"
    if HEDGE.search(text):
        return "hedge"
    rest = SMALL_TALK.sub(" ", text)
    if len([t for t in tokens(rest) if t not in STOPWORDS and len(t) > 2]) <= 1 and not extract_facts(text):
        if not [n for n in names(text) if n.lower() not in known_names]:
            # "No, you cannot." says nothing a source could back, and is the whole answer to a
            # yes/no question: not small talk.
            return "yes_no" if YES_NO.match(text) else "small_talk"
    return "claim"


def claim_text(text: str) -> str:
    """The sentence without a leading "Yes,"/"No," or small talk, which say nothing to match."""
    rest = YES_NO.sub("", text)
    rest = re.sub(rf"^(?:{SMALL_TALK.pattern})+", "", rest, flags=re.IGNORECASE).strip()
    return rest or text


def question_parts(question: str) -> list[str]:
    """The question, then up to three of its parts ("… and do you ship to Canada?")."""
    parts = [p for p in QUESTION_PARTS.split(question) if p and len(tokens(p)) >= 2] or [question]
    return [question] + [p for p in parts if p.strip() != question.strip()][:3]


def expected_yes(question: str, source: str) -> bool | None:
    """Yes or no to `question` by `source`: no when the source negates a word the question asks about."""
    asked = {stem(t) for t in tokens(question) if t not in STOPWORDS and len(t) > 2}
    negated, asserted = polarity(source)
    if asked & negated:
        return is_negated(question)
    if asked & asserted:
        return not is_negated(question)
    return None


# "a store in chicago", "ship to australia": the words right after these name a place, in lower case too.
_PLACE = re.compile(
    r"\b(?:in|near|from|(?:ship|ships|shipping|deliver|delivery|send|mail)\s+to)\s+([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*)?)",
    re.IGNORECASE,
)


# "in january", "in late november", "in the morning": when, not where.
_TIMES = set(
    """january february march april may june july august september october november december jan feb
    mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday
    spring summer fall autumn winter morning afternoon evening night today tomorrow yesterday week
    weeks month months year years day days time late early mid weekend holidays holiday christmas""".split()
)


def places(question: str) -> list[str]:
    """Lower-case phrases a question names a place with ("chicago", "new york"), up to a common word;
    not a time ("in late november")."""
    return _phrases(_PLACE, question)


# "do you offer gift wrapping", "is there a student discount", "the warranty on a sofa": the words after
# these name the thing asked about, which the sources must speak of for an answer to be theirs; not in
# "why is there an extra charge", which asks about something the customer already has.
_ASKED_ABOUT = re.compile(
    r"(?:(?:^|[,;.?!]\s*|\band\s+)(?:do you (?:offer|have|sell|carry|stock|provide|do)|is there|are there|"
    r"can (?:i|we) get)|\b(?:on|for) (?:a|an))\s+(?:(?:a|an|any|some)\s+)?([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*)?)",
    re.IGNORECASE,
)
# "is the milk frother covered": the thing a warranty, a plan or a policy is asked to cover.
_COVERED = re.compile(
    r"\b(?:is|are) (?:the|my|a|an|your) ([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*)?) (?:covered|included)\b",
    re.IGNORECASE,
)


def mentions(text: str, term: str) -> bool:
    """Whether `text` has `term` as whole words ("king" is not in "making")."""
    return re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text, re.IGNORECASE) is not None


def asked_about(question: str) -> list[str]:
    """The thing a question asks the company has or does, or asks to be covered, up to a common word:
    "gift wrapping" of "do you offer gift wrapping", "sofa" of "whats the warranty on a sofa", "milk
    frother" of "is the milk frother covered under the warranty"."""
    return _phrases(_ASKED_ABOUT, question) + _phrases(_COVERED, question)


def _phrases(pattern: re.Pattern[str], question: str) -> list[str]:
    """The words after each match of `pattern` up to a common word, unless they say when ("for a whole
    year", "in late november")."""
    out = []
    for match in pattern.finditer(question):
        words = []
        for word in match.group(1).lower().split():
            if word in STOPWORDS or len(word) <= 2:
                break
            words.append(word)
        if words and not _TIMES & set(words):
            out.append(" ".join(words))
    return out


# "Thanks Dana!", "hi Sam,": the name after a greeting or thanks is the person addressed, not the subject.
_ADDRESSED = re.compile(
    r"\b(?:thanks|thank you|thx|hi|hello|hey|dear|cheers)[,!.]?\s+([A-Z][a-z'-]+)", re.IGNORECASE
)


def missing_terms(question: str, known: frozenset[str]) -> list[str]:
    """Names in the question that no source contains ("Berlin"): a quote must cover them.

    Only capitalised words, places ("in chicago", "ship to australia") and the thing the question asks
    the company has ("student" of "is there a student discount": `asked_about`) count: another
    lower-case word missing from the sources is as often a synonym ("coupon" for "promo code") as a
    name, and the answer threshold judges those. A name the customer greets or thanks (a person of the
    support team) is not. `known` is the sources' vocabulary and the company's names.
    """
    addressed = {m.group(1).lower() for m in _ADDRESSED.finditer(question) if m.group(1)[0].isupper()}
    out = []
    for name in names(question):
        word = name.lower()
        if word in STOPWORDS or len(word) <= 2 or word in addressed or name_supported(name, known):
            continue
        out.append(word)
    # A place is a name however it is written: "do you have a store in chicago".
    for place in places(question):
        words = place.split()
        while words and name_supported(words[-1], known):
            words.pop()  # "mexico cost" → "mexico"; "new york" stays whole
        if words:
            out.append(" ".join(words))
    # So is what the question asks the company has, where no source has its word: "student" of "is
    # there a student discount" with the promo-code article retrieved.
    for thing in asked_about(question):
        out += [w for w in thing.split() if not name_supported(w, known)]
    return list(dict.fromkeys(out))[:6]


# A claim with this many content words that neither its sources nor the question have adds to them.
NEW_WORDS = 3
# "at any time", "always": a claim that sets no limit where its source sentence does not say so either.
_UNLIMITED = re.compile(
    r"\b(?:at any time|any ?time|at all times|always|whenever you (?:like|want))\b", re.IGNORECASE
)


def adds(claim: str, source: str, source_words: frozenset[str], question: str) -> tuple[str, str] | None:
    """Why `claim`, close in meaning to its closest source sentence `source`, still says more than the
    sources (None when it does not): ("new_words", …) for `NEW_WORDS` content words that no source
    (`source_words`) and not the question has ("click the Delete button in the upper left corner of the
    screen"), ("unlimited", …) for "at any time" or "always" where `source` sets no such freedom ("You
    can cancel your order at any time" beside "For 1 hour after you place an order, you can … cancel")."""
    new = sorted(w for w in content_stems(claim) - content_stems(question) if w not in source_words)
    if len(new) >= NEW_WORDS:
        return "new_words", ", ".join(new)
    unlimited = _UNLIMITED.search(claim)
    if unlimited and not _UNLIMITED.search(source):
        return "unlimited", f"'{unlimited.group(0)}': the source sentence sets no such freedom"
    return None


# Content words a claim may have that its closest source sentences (and the question) do not.
STRAY_WORDS = 4


def strays(claim: str, evidence: Sequence[str], question: str) -> tuple[str, str] | None:
    """("new_words", …) when `claim` has more than `STRAY_WORDS` content words that neither its closest
    source sentences and their neighbours (`evidence`) nor the question have, though each is in some
    source: "… returned within 30 days of the order date and return shipping is not refunded until
    your next delivery date (we will send a prepaid label)" beside "If you don't, most items can be
    returned within 30 days." (bench/claims: five or more drops one more false sentence, no true one)."""
    extra = sorted(content_stems(claim) - content_stems(" ".join(evidence)) - content_stems(question))
    if len(extra) > STRAY_WORDS:
        return "new_words", "not in its closest source sentences: " + ", ".join(extra)
    return None


# Where a sentence joins two statements: "…; it's a reminder to protect yourself", "…, but it's best to…",
# "…, and you'll receive a new one every hour".
_CLAUSE_BREAK = re.compile(r";\s+|,\s+(?:but|and)\s+|\s+—\s+")


# A condition that leads a sentence: "If a carrier does ask for money on delivery, …".
_LEADING_CONDITION = re.compile(
    r"^((?:if|when|once|after|before|unless|until)\b[^,;]{8,}),\s+", re.IGNORECASE
)


def clauses(claim: str) -> list[str]:
    """The statements a sentence joins, each of three content words or more (none for one statement):
    each must be close to a source sentence, not only the whole. A leading condition is one of them:
    "If a carrier does ask for money on delivery, we'll send a return label …" is close to "If a
    carrier does ask you for money on delivery, don't pay it." by its condition alone."""
    condition = _LEADING_CONDITION.match(claim)
    rest = claim[condition.end() :] if condition else claim
    pieces = ([condition.group(1)] if condition else []) + _CLAUSE_BREAK.split(rest)
    parts = [p.strip() for p in pieces if len(content_stems(p)) >= 3]
    return parts if len(parts) > 1 else []


# Where a source sentence sets its condition: "An address can be changed … before the order is packed".
_CONDITION = re.compile(
    r"\b(?:before|until|unless|as long as|only if|only when|provided)\b([^,;]*)", re.IGNORECASE
)


def says_condition(source: str, said: str, question: str) -> bool:
    """Whether `said` states the condition of `source` (its "before the order is packed", "unless it
    arrived damaged"), when the question does not already: a plain "yes, you can change the address"
    leaves out when you can. A source sentence without a condition has nothing to leave out."""
    asked, told = content_stems(question), content_stems(said)
    for match in _CONDITION.finditer(source):
        wanted = content_stems(match.group(1)) - asked
        if wanted and not wanted & told:
            return False
    return True
