"""The streamed answer check notices each completed sentence at the token that completes it, without
splitting the reply again at every token (knowledge/demo's articles streamed as replies)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import grounding.streaming as streaming
from grounding import AnswerChecker
from grounding.sentences import split_reply
from grounding.streaming import CheckedReply
from knowledge.seeding import DEMO_DIR

ARTICLES = sorted(DEMO_DIR.glob("*.md"))


def completed(text: str) -> int:
    """How many units of `text` are complete (the last one may still grow): the oracle."""
    return max(0, len([u for u in split_reply(text) if u.text]) - 1)


def pieces(text: str, how: str) -> list[str]:
    if how == "words":  # a model's tokens: a word with the space before it
        return re.findall(r"\s*\S+|\s+$", text)
    return [text[i : i + 3] for i in range(0, len(text), 3)]  # cut anywhere, spaces and lines too


@pytest.mark.parametrize("how", ["words", "chunks"])
@pytest.mark.parametrize("article", ARTICLES, ids=lambda p: p.stem)
def test_every_token_that_completes_a_sentence_is_judged_and_few_others(
    article: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = article.read_text()[:1500]
    splits = 0
    split = streaming.split_reply

    def counted(reply: str):
        nonlocal splits
        splits += 1
        return split(reply)

    monkeypatch.setattr(streaming, "split_reply", counted)
    checker = AnswerChecker(lambda texts: [[1.0, 0.0] for _ in texts])
    reply = CheckedReply(checker, "question", [])
    so_far, judged_at, completes_at, most = "", [], [], 0
    for n, piece in enumerate(pieces(text, how)):
        so_far += piece
        # (A sentence end may be taken back: "e.g. the" is not one. Each sentence is judged once.)
        if completed(so_far) > most:
            completes_at.append(n)
            most = completed(so_far)
        if (judge := reply.take(piece)) is not None:
            judged_at.append(n)
            judge()
    assert completes_at, "the article has sentences"
    assert judged_at == completes_at
    # Split again near a sentence's end or a new line only, not at each of the reply's tokens.
    assert splits <= 3 * len(completes_at) + 5
    assert splits < len(pieces(text, how)) / 2
