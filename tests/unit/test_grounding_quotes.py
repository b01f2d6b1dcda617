"""Only the check quotes the sources: a reply sentence dressed as a quotation ("Our X article says:
“…”") is dropped whatever it holds, and the customer gets the real quote instead.

The article is a made-up bicycle shop's, not the demo help center's."""

from __future__ import annotations

from grounding import Source
from tests.utils.grounding import check

DELIVERY = Source(
    title="Delivery Times",
    text=(
        "# Delivery Times\n\n"
        "Bikes ship fully assembled from our workshop in Leeds. "
        "Orders placed before 2 pm leave the workshop within 3 business days. "
        "Delivery to the Scottish Highlands takes 2 extra days."
    ),
    document="delivery",
)
QUESTION = "how long until my bike leaves the workshop"


def test_a_made_up_quotation_is_dropped_and_the_real_article_quoted(checker) -> None:
    # Its words are close to the article's, but the quotation marks are the model's, and so is "1–2".
    reply = 'Our Delivery Times article says: "Orders placed before 2 pm leave the workshop within 1–2 business days.'
    verdict = check(checker, QUESTION, reply, DELIVERY)
    assert [v.reason for v in verdict.sentences] == ["quote"], verdict.trace()
    assert verdict.fallback == "extractive", verdict.trace()
    assert "1–2" not in (verdict.text or "")
    assert "within 3 business days" in (verdict.text or ""), verdict.trace()


def test_a_tool_results_lead_in_is_no_cover_either(checker) -> None:
    reply = "lookup_order says: “Your bike left the workshop yesterday.” It arrives tomorrow."
    verdict = check(checker, QUESTION, reply, DELIVERY)
    assert "quote" in [v.reason for v in verdict.sentences], verdict.trace()
    assert "yesterday" not in (verdict.text or ""), verdict.trace()


def test_the_same_words_without_the_quotation_are_checked_as_a_claim(checker) -> None:
    reply = "Orders placed before 2 pm leave the workshop within 3 business days."
    verdict = check(checker, QUESTION, reply, DELIVERY)
    assert verdict.text == reply, verdict.trace()
