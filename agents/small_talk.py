"""Messages that ask nothing: a greeting, thanks, a goodbye, "who are you?", or "I need help" that
does not say with what yet.

Searched like questions, they find nothing in the help center, get the honest "I don't know", and
the second in a row hands a polite customer to a person. They get a short friendly reply of our own
instead (the `small_talk` prompt), which is not an "I don't know". A message counts only when it is
made of such phrases alone: "hi, where is my order?" is a question and is answered as one. A
message of emoji alone ("👍") is thanks, unless one of them is unhappy ("👎").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Literal

SmallTalk = Literal["greeting", "thanks", "goodbye"]

# Each kind's phrases, as regular expressions over the message lower-cased, without punctuation.
_GOODBYE = (
    r"bye( bye| for now)?", r"good ?bye", r"see (you|ya)( later| soon| around)?", r"talk (to you )?(later|soon)",
    r"take care", r"later", r"have a (nice|good|great|lovely|wonderful) (day|one|evening|weekend|night)",
    r"good night", r"(that's|that is|that'll be|that will be) (all|it|everything)( for (now|today))?",
    r"(that's|that is) all (i|i'd|we) (need|needed|wanted|wanted to know)", r"nothing else",
    r"no (thanks|thank you|thx)", r"(i'm|i am) (good|fine|all set|done)( now| then)?", r"all set",
)  # fmt: skip
_THANKS = (
    r"(thanks|thank you|thank u|thx|ty|tysm|cheers|many thanks)( (so|very) much| a lot| a bunch| again)?"
    r"( for (your|the|all (your|the)) (help|answer|answers|info|information|assistance|time|reply)"
    r"| for helping( me| out)?)?",
    r"(much )?appreciated", r"(i )?(really )?appreciate (it|that|this|your help|the help)",
    r"(you've been|you have been|you're|you are|that's|that is|that was|this was|this is) "
    r"((very|so|really|super|a) )?(helpful|great|amazing|awesome|perfect|(a )?(great|big) help)",
    r"that (helps|helped)( a lot)?", r"(very |super |really )?helpful",
    r"great|perfect|awesome|cool|nice|ok|okay|k|alright|all right|got it|understood|sounds good|good"
    r"|excellent|wonderful|brilliant|amazing|fine|all good|no problem|np|no worries|great help",
)  # fmt: skip
_GREETING = (
    r"(hi|hello|hey|hiya|howdy|yo|greetings)( there| again)?", r"good (morning|afternoon|evening|day)", r"morning",
    r"how are (you|u)( doing)?( today)?", r"how's it going", r"how are things", r"nice to meet you",
    r"who are (you|u)", r"what are (you|u)", r"what can (you|u) (do|help( me)? with)",
    r"are (you|u) (a bot|a robot|human|a human|a real person|real|an ai)", r"(is )?any(one|body) (there|here)",
    # A request for help that does not say with what yet: the greeting asks.
    r"(i )?(need|want|would like) (some )?help", r"can (you|u) help( me)?", r"help( me)?",
    r"(i )?have (a|some) (question|questions)", r"(i )?(have|got) a quick question",
)  # fmt: skip
# Words that may stand between the phrases: "yes", "oh", "so much", "again", "everyone", "please".
_FILLER = (
    r"yes|yeah|oh|ah|well|and|so|so much|a lot|again|everyone|all|guys|really|just|today|now|please|indeed"
)
_MAX_WORDS = 16
# Emoji that say something is wrong: not thanks.
_UNHAPPY = set("👎😡😠🤬😤😞😢😭☹🙁😕😒💩")

_KINDS: tuple[tuple[SmallTalk | None, tuple[str, ...]], ...] = (
    ("goodbye", _GOODBYE),
    ("thanks", _THANKS),
    ("greeting", _GREETING),
    (None, (_FILLER,)),
)
_PHRASES = [(kind, re.compile(rf"\s*\b(?:{phrase})\b")) for kind, phrases in _KINDS for phrase in phrases]
_ORDER: tuple[SmallTalk, ...] = ("goodbye", "thanks", "greeting")


def small_talk(text: str, names: Iterable[str] = ()) -> SmallTalk | None:
    """What kind of small talk `text` is, or None when it says or asks anything else. `names` (the
    assistant's, the company's) may be in it too: "Thanks, Nora!". A goodbye with thanks in it is a
    goodbye; thanks after a greeting are thanks."""
    if _emoji_only(text):
        # "👍", "😀🙏" after an answer: thanks (not a question the help center cannot answer).
        return None if any(c in _UNHAPPY for c in text) else "thanks"
    plain = " ".join(re.sub(r"[^a-z' ]+", " ", text.lower().replace("\u2019", "'")).split())
    for name in names:
        plain = re.sub(rf"\b{re.escape(name.lower())}\b", " ", plain)
    plain = " ".join(plain.split())
    if not plain or len(plain.split()) > _MAX_WORDS:
        return None
    kinds, at = set(), 0
    while at < len(plain):
        # The longest phrase here ("good morning", not "good"; "no thanks", a goodbye, not "no").
        found = [
            (m.end(), -n, kind) for n, (kind, phrase) in enumerate(_PHRASES) if (m := phrase.match(plain, at))
        ]
        if not found or max(found)[0] == at:
            return None  # a word that is not small talk: the message says or asks something
        end, _, kind = max(found)
        kinds.add(kind)
        at = end
    # Fillers alone ("yes", "oh well") answer something: not small talk.
    return next((kind for kind in _ORDER if kind in kinds), None)


def _emoji_only(text: str) -> bool:
    """Emoji (and spaces or punctuation) and nothing else: no letter, no digit."""
    symbols = [c for c in text if unicodedata.category(c) == "So"]
    return bool(symbols) and not any(c.isalnum() for c in text)
