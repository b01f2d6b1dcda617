"""The exact parts of a sentence a reply must not get wrong: numbers, prices, durations, times, names, negations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_SMALL_NUMBERS = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_UNIT = r"(?:business\s+|calendar\s+|working\s+)?(minute|min|hour|hr|day|week|month|year|yr)s?\b"
# Minutes for the short units, months for the long ones: "24 hours" is "1 day", "12 months" is "1 year".
_SHORT = {"minute": 1, "min": 1, "hour": 60, "hr": 60, "day": 1440, "week": 10080}
_LONG = {"month": 1, "year": 12, "yr": 12}
_NUMBER = r"\d[\d,]*(?:\.\d+)?"

_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_PHONE = re.compile(r"\b(?:\d[-. ])?\(?\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b")
_CODE = re.compile(r"\b[A-Z]{2,}-\d+\b")
_RANGE = re.compile(rf"({_NUMBER})\s*(?:–|—|-|to|and)\s*({_NUMBER})[\s-]*{_UNIT}", re.IGNORECASE)
_DURATION = re.compile(rf"({_NUMBER})[\s-]*{_UNIT}", re.IGNORECASE)
_PERCENT = re.compile(rf"({_NUMBER})\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
_MONEY = re.compile(
    rf"(?:(?:US|CA|C|A)?\$\s?({_NUMBER}))|(?:\b({_NUMBER})\s*(?:dollars?|usd|cad|bucks)\b)", re.IGNORECASE
)
_PLAIN = re.compile(rf"(?<![\w.]){_NUMBER}(?:st|nd|rd|th)?\b", re.IGNORECASE)

_NEGATIONS = {"not", "no", "never", "none", "nothing", "without", "cannot", "nor", "neither", "unable"}
# Words that say "not <word>" in one: "closed on Sundays" is "not open on Sundays".
_OPPOSITES = {
    "closed": "open",
    "unavailable": "available",
    "ineligible": "eligible",
    "invalid": "valid",
    "impossible": "possible",
    "excluded": "included",
    "prohibited": "allowed",
    "forbidden": "allowed",
    "disallowed": "allowed",
    "nonrefundable": "refundable",
    "unpaid": "paid",
}
STOPWORDS = set(
    """a an the and or but if then so of to in on at by for with from as into onto about over under is are
    was were be been being am do does did doing have has had having i me my we us our you your yours he she
    it its they them their this that these those there here what which who whom whose when where why how
    can could will would shall should may might must also just only even very too than any some all each
    every both either more most much many such own same other another get gets got getting let lets please
    up out off again further once yes yeah ok okay sure hi hello hey thanks thank it's i'm i'll i've i'd
    you're you'll we're we'll we've that's there's what's don't doesn't didn't can't won't isn't aren't
    wasn't weren't cannot not no never able really still well like want need know tell say said make
    made go going way thing things something anything one ones im ive id dont doesnt cant wont isnt u ur
    pls whats wheres hows theres thats youre guys offer offers offered""".split()
)
_SCOPE_SKIP = STOPWORDS | {
    "be",
    "been",
    "yet",
    "always",
    "currently",
    "usually",
    "necessarily",
    "automatically",
}
_NAME_EXCEPTIONS = {"I", "I'm", "I'll", "I've", "I'd", "OK", "Hi", "Hello", "Hey", "Dear", "Yes", "No"}


@dataclass(frozen=True)
class Fact:
    """A checkable value in a sentence: `key` is what a source must contain, `surface` what was written."""

    kind: str  # number | money | percent | duration | time | phone | code
    key: str
    surface: str


def _value(text: str) -> str:
    number = float(text.replace(",", ""))
    return f"{number:g}" if number != int(number) else str(int(number))


def words_to_digits(text: str) -> str:
    """Number words as digits: "thirty days" → "30 days", "twenty-four hours" → "24 hours", "a year" → "1 year"."""

    def compound(match: re.Match[str]) -> str:
        tens = _TENS[match.group(1).lower()]
        unit = match.group(2)
        return str(tens + (_SMALL_NUMBERS.get(unit.lower(), 1) if unit else 0))

    ones = "|".join(["one", *list(_SMALL_NUMBERS)[1:10]])
    text = re.sub(
        rf"\b({'|'.join(_TENS)})(?:[-\s]({ones}))?\b",
        compound,
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(
        rf"\b({'|'.join(_SMALL_NUMBERS)})\b",
        lambda m: str(_SMALL_NUMBERS[m.group(1).lower()]),
        text,
        flags=re.IGNORECASE,
    )
    # "one", "a" and "an" count only before a unit: "one of our agents" has no number in it.
    return re.sub(rf"\b(?:one|an?)([\s-]+){_UNIT}", lambda m: f"1{m.group(1)}{m.group(2)}", text, flags=re.I)


def _duration_key(value: str, unit: str) -> str:
    unit = unit.lower()
    number = float(value.replace(",", ""))
    if unit in _LONG:
        return f"duration:{_value(str(number * _LONG[unit]))}mo"
    return f"duration:{_value(str(number * _SHORT[unit]))}min"


def _range_key(low: str, high: str, unit: str) -> str:
    """ "duration:4320min-10080min" for "3–7 days"."""
    return f"{_duration_key(low, unit)}-{_duration_key(high, unit).split(':', 1)[1]}"


@lru_cache(maxsize=16384)
def extract_facts(text: str) -> tuple[Fact, ...]:
    """The numbers, prices, percentages, durations, times of day, phone numbers and codes in `text`."""
    text = words_to_digits(text.replace("’", "'"))
    facts: list[Fact] = []

    def take(pattern: re.Pattern[str], make: object) -> None:
        nonlocal text
        for match in pattern.finditer(text):
            facts.extend(make(match))  # type: ignore[operator]
        text = pattern.sub(" ", text)

    def time_of_day(m: re.Match[str]) -> list[Fact]:
        hour = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "p" else 0)
        return [Fact("time", f"time:{hour:02d}:{m.group(2) or '00'}", m.group())]

    take(_TIME, time_of_day)
    take(_PHONE, lambda m: [Fact("phone", "phone:" + re.sub(r"\D", "", m.group())[-10:], m.group())])
    take(_CLOCK, lambda m: [Fact("time", f"time:{int(m.group(1)):02d}:{m.group(2)}", m.group())])
    take(_CODE, lambda m: [Fact("code", f"code:{m.group().upper()}", m.group())])
    # A range is one fact: "3–7 business days" is not "3 business days", nor "7".
    take(_RANGE, lambda m: [Fact("duration", _range_key(m.group(1), m.group(2), m.group(3)), m.group())])
    take(_DURATION, lambda m: [Fact("duration", _duration_key(m.group(1), m.group(2)), m.group())])
    take(_PERCENT, lambda m: [Fact("percent", f"percent:{_value(m.group(1))}", m.group())])
    take(_MONEY, lambda m: [Fact("money", f"money:{_value(m.group(1) or m.group(2))}", m.group().strip())])
    for match in _PLAIN.finditer(text):
        digits = re.match(_NUMBER, match.group())
        if digits and re.search(r"\d", digits.group()):
            facts.append(Fact("number", f"number:{_value(digits.group().rstrip(',.'))}", match.group()))
    return tuple(facts)


def fact_keys(facts: list[Fact] | tuple[Fact, ...]) -> set[str]:
    """Everything a source's facts can match: each key, and a price's bare value ("money:16" also as "number:16")."""
    keys = {f.key for f in facts}
    for fact in facts:
        if fact.kind == "money":
            keys.add("number:" + fact.key.split(":", 1)[1])
    return keys


def fact_supported(fact: Fact, keys: set[str]) -> bool:
    if fact.key in keys:
        return True
    if fact.kind == "number":
        # A bare number may be a price the source writes with its currency; a price must be a price
        # ("$50" is not "50%").
        return f"money:{fact.key.split(':', 1)[1]}" in keys
    return False


# Places and the words for their people or things: "Canadian orders" are orders to Canada.
_SAME_STEM = {
    "canadian": "canada",
    "american": "america",
    "mexican": "mexico",
    "european": "europe",
    "british": "britain",
    "australian": "australia",
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem, enough to see "covered", "covers" and "cover" as one word, and "Canadian" and
    "Canada"."""
    word = word.lower().strip("'")
    word = _SAME_STEM.get(word, word)
    if word.endswith("n't"):
        return word
    word = re.sub(r"'s$", "", word)
    for suffix in ("ability", "able", "ing", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    elif len(word) >= 6 and word.endswith("ll") and word[-3] in "aeiou":
        word = word[:-1]  # "cancelled" and "cancel", "travelling" and "travel"
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


def content_stems(text: str) -> set[str]:
    return {stem(t) for t in tokens(text) if t not in STOPWORDS and len(t) > 2 and not t.isdigit()}


@lru_cache(maxsize=16384)
def polarity(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(negated, asserted): stems of content words in a negation's scope, and all the others; a word
    that says "not <word>" in one ("closed") negates that word (`_OPPOSITES`)."""
    negated: set[str] = set()
    asserted: set[str] = set()
    opposed: set[str] = set()
    # A negation reaches the next four content words of its own clause: "If you don't, most items…"
    # negates nothing in "most items"; an "or" after it reaches further: "isn't available for Canadian
    # orders or for gift card purchases" negates the gift cards too.
    for clause in re.split(r"[,;:.!?()—–]+", text):
        scope, negating = 0, False
        for word in tokens(clause):
            if word in _NEGATIONS or word.endswith("n't"):
                scope, negating = 4, True
                continue
            if negating and word in ("or", "nor"):
                scope = 4
                continue
            if word in _SCOPE_SKIP or len(word) <= 2 or word.isdigit():
                continue
            if word in _OPPOSITES:
                # "closed" negates "open" (unless the text also says "open": "open weekdays, closed on
                # weekends"); "not closed" asserts it.
                (asserted if scope else opposed).add(stem(_OPPOSITES[word]))
                scope = max(scope - 1, 0)
                continue
            if scope:
                negated.add(stem(word))
                scope -= 1
            else:
                asserted.add(stem(word))
    negated |= opposed - asserted
    return frozenset(negated), frozenset(asserted - negated)


def contradicts(claim: str, source: str) -> str | None:
    """The word a claim negates where the source asserts it, or asserts where the source negates it."""
    claim_negated, claim_asserted = polarity(claim)
    source_negated, source_asserted = polarity(source)
    for word in sorted(claim_negated):
        if word in source_asserted and word not in source_negated:
            return f"not {word}"
    for word in sorted(claim_asserted):
        if word in source_negated and word not in source_asserted:
            return word
    return None


def is_negated(text: str) -> bool:
    return any(w in _NEGATIONS or w.endswith("n't") for w in tokens(text))


def names(text: str) -> list[str]:
    """Capitalised words that are not the first of the sentence: product, place and brand names, months."""
    found: list[str] = []
    # A list marker, a colon or an opening quote starts a new sentence too.
    for part in re.split(r"[:;\"“”(]\s*|[.!?]\s+|\n", text):
        words = re.findall(r"[A-Za-z][A-Za-z'’&-]*", part)
        for word in words[1:]:
            if word[0].isupper() and word not in _NAME_EXCEPTIONS and not word.startswith("I'"):
                found.append(word.strip("'’-"))
    return found


def rare_words(text: str, common: frozenset[str] | None) -> list[str]:
    """Lower-case words of four letters or more outside `common` (the words an embedding model's
    tokenizer knows whole): a brand or product written small ("afterpay"). None without `common`."""
    if not common:
        return []
    found = (w for w in re.findall(r"\b[a-z]{4,}\b", text) if w not in common and w not in STOPWORDS)
    return list(dict.fromkeys(found))


@lru_cache(maxsize=4096)
def vocabulary(text: str) -> frozenset[str]:
    """Lower-case words and their stems, to look a name up in."""
    words = set(tokens(text)) | set(re.findall(r"[a-z][a-z&'-]*", text.lower()))
    return frozenset(words | {stem(w) for w in words})


def name_supported(name: str, vocab: frozenset[str]) -> bool:
    lowered = name.lower()
    return lowered in vocab or stem(lowered) in vocab or lowered.rstrip("s") in vocab
