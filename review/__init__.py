"""What an admin reviews after the fact: customers' ratings of replies, the conversation browser and
its turn inspector, and the fine-tuning export (JSONL for SFT and DPO) built from rated replies."""

from review.browser import ConversationBrowser, ConversationPage, ConversationRow
from review.export import ExportFilters, dpo_pairs, export_lines, liked_answers, sft_examples
from review.feedback import FeedbackService, NotRateableError, UnknownMessageError
from review.inspector import inspect_reply

__all__ = [
    "ConversationBrowser",
    "ConversationPage",
    "ConversationRow",
    "ExportFilters",
    "FeedbackService",
    "NotRateableError",
    "UnknownMessageError",
    "dpo_pairs",
    "export_lines",
    "inspect_reply",
    "liked_answers",
    "sft_examples",
]
