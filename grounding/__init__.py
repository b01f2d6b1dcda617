"""Checks a reply against its sources before it is sent: supported sentences stay, the rest goes."""

from grounding.checker import AnswerChecker
from grounding.sentences import finish_sentences, is_repeating
from grounding.streaming import CheckedReply
from grounding.verdict import AnswerMode, SentenceVerdict, Source, Verdict

__all__ = [
    "AnswerChecker",
    "AnswerMode",
    "CheckedReply",
    "SentenceVerdict",
    "Source",
    "Verdict",
    "finish_sentences",
    "is_repeating",
]
