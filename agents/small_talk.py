"""Messages that ask nothing: a greeting, thanks, a goodbye, or "who are you?".

Searched like questions, they find nothing in the help center, get the honest "I don't know", and
the second in a row hands a polite customer to a person. They get a short friendly reply of our own
instead (the `small_talk` prompt), which is not an "I don't know". A message counts only when it is
made of such phrases alone: "hi, where is my order?" is a question and is answered as one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

SmallTalk = Literal["greeting", "thanks", "goodbye"]

_GOODBYE = (
    "bye", "bye bye", "goodbye", "good bye", "see you", "see ya", "see you later", "take care",
    "have a nice day", "have a good day", "have a great day", "have a nice one", "have a good one",
    "have a good evening", "have a nice evening", "have a good weekend", "have a nice weekend",
    "that's all", "that is all", "that's it", "nothing else", "no that's all", "good night",
)  # fmt: skip
_THANKS = (
    "thanks", "thank you", "thank u", "thx", "ty", "many thanks", "thanks a lot", "thanks so much",
    "thank you so much", "thank you very much", "much appreciated", "appreciate it", "i appreciate it",
    "cheers", "great", "perfect", "awesome", "cool", "nice", "ok", "okay", "k", "alright", "got it",
    "understood", "that helps", "that helped", "very helpful", "that's helpful", "that was helpful",
    "that's great", "sounds good", "good", "excellent", "wonderful", "brilliant", "amazing",
)  # fmt: skip
_GREETING = (
    "hi", "hello", "hey", "hiya", "howdy", "hey there", "hi there", "hello there", "greetings", "yo",
    "good morning", "good afternoon", "good evening", "morning", "how are you", "how are you doing",
    "how's it going", "who are you", "what are you", "what can you do", "what can you help with",
    "what can you help me with", "are you a bot", "are you a robot", "are you human", "is anyone there",
    "anyone there",
)  # fmt: skip
# Words that may stand between the phrases: "yes", "oh", "so much", "again", "everyone".
_FILLER = ("yes", "yeah", "oh", "ah", "well", "and", "so much", "a lot", "again", "everyone", "all", "guys")
_MAX_WORDS = 14


_KIND: dict[str, SmallTalk | None] = {
    **dict.fromkeys(_FILLER, None),
    **dict.fromkeys(_GREETING, "greeting"),
    **dict.fromkeys(_THANKS, "thanks"),
    **dict.fromkeys(_GOODBYE, "goodbye"),
}
# Longest first, so that "good morning" is one phrase, not "good" and a leftover.
_PHRASE = re.compile(
    r"\s*\b(" + "|".join(re.escape(p) for p in sorted(_KIND, key=len, reverse=True)) + r")\b"
)
_ORDER: tuple[SmallTalk, ...] = ("goodbye", "thanks", "greeting")


def small_talk(text: str, names: Iterable[str] = ()) -> SmallTalk | None:
    """What kind of small talk `text` is, or None when it says or asks anything else. `names` (the
    assistant's, the company's) may be in it too: "Thanks, Nora!". A goodbye with thanks in it is a
    goodbye; thanks after a greeting are thanks."""
    plain = " ".join(re.sub(r"[^a-z' ]+", " ", text.lower().replace("\u2019", "'")).split())
    for name in names:
        plain = re.sub(rf"\b{re.escape(name.lower())}\b", " ", plain)
    plain = " ".join(plain.split())
    if not plain or len(plain.split()) > _MAX_WORDS:
        return None
    kinds, at = set(), 0
    while at < len(plain):
        found = _PHRASE.match(plain, at)
        if found is None:
            return None  # a word that is not small talk: the message says or asks something
        kinds.add(_KIND[found.group(1)])
        at = found.end()
    # Fillers alone ("yes", "oh well") answer something: not small talk.
    return next((kind for kind in _ORDER if kind in kinds), None)
