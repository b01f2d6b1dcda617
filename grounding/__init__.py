"""Checks a reply against its sources before it is sent: supported sentences stay, the rest goes."""

from grounding.checker import AnswerChecker, AnswerMode, CheckedReply, SentenceVerdict, Source, Verdict
from grounding.sentences import finish_sentences, is_repeating

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
