"""Sentences close in meaning to a source sentence that still say more than the sources: words no source
has, "at any time" where the source sets a limit, and a statement joined to a supported one. The failing sentences are the embedded model's own,
from bench/data/labelled_claims.json, where they were labelled false."""

from __future__ import annotations

import pytest

from grounding.claims import adds
from grounding.facts import vocabulary
from tests.utils.grounding import article, check

PRIVACY = article("privacy-and-data-deletion")
RETURNS = article("returns-policy")
GIFT_CARDS = article("promo-codes-and-gift-cards")
ACCOUNT = article("account-and-login")
EXCHANGES = article("exchanges")


@pytest.mark.parametrize(
    ("question", "reply", "source", "reason"),
    [
        (
            "how can i get a copy of the data you have on me",
            'You may choose to delete this data from your Northwind Goods account by clicking on the "Delete" '
            "button, which is located in the upper left corner of the screen.",
            PRIVACY,
            "new_words",
        ),
        # 0.90 similar to "Our full Privacy Policy is linked at the bottom of every page.": true, then invented.
        (
            "do you sell my info to advertisers",
            "Our full Privacy Policy is linked at the bottom of every page; it's a reminder to protect yourself "
            "from any unauthorized actions and for us to keep all our customer details confidential.",
            PRIVACY,
            "new_words",
        ),
        # The model's instructions leaking in front of the article's own sentence: 0.74 close as a whole.
        (
            "want the same frying pan just in the bigger size instead",
            "The customer's own words follow them; you can exchange an item for another variant of the same "
            "product.",
            EXCHANGES,
            "clause",
        ),
        # The source: "… with your own carrier at your own cost, as long as it's trackable."
        (
            "how do i send something back",
            "You can send a return back with your own carrier at any time.",
            RETURNS,
            "unlimited",
        ),
    ],
)
def test_a_close_sentence_that_adds_to_its_source_is_dropped(
    checker, question, reply, source, reason
) -> None:
    verdict = check(checker, question, reply, source)
    assert not verdict.sentences[0].kept and verdict.sentences[0].reason == reason, verdict.trace()
    assert reply not in (verdict.text or "")


@pytest.mark.parametrize(
    ("question", "reply", "source"),
    [
        # Two words of its own ("gladly", "refund" is the article's): a paraphrase, not an addition.
        (
            "how many days do i have to return something",
            "You can return most items within 30 days of delivery, and we will gladly refund you.",
            RETURNS,
        ),
        (
            "how do i change the email address on my account",
            "To change your email address, follow these steps:",
            ACCOUNT,
        ),
        # Two statements, each the article's.
        (
            "do gift cards expire",
            "Northwind Goods gift cards never expire; you can check your balance any time at "
            "northwindgoods.com/giftcard.",
            GIFT_CARDS,
        ),
        # "any time" is the source's own: "Check your balance any time at northwindgoods.com/giftcard."
        (
            "how do i check how much is left on my gift card",
            "You can check your gift card balance at any time at northwindgoods.com/giftcard.",
            GIFT_CARDS,
        ),
    ],
)
def test_a_paraphrase_with_a_few_words_of_its_own_passes(checker, question, reply, source) -> None:
    verdict = check(checker, question, reply, source)
    assert verdict.sentences[0].kept, verdict.trace()


def test_what_a_claim_adds_is_counted_against_the_sources_and_the_question() -> None:
    source = "Use the form and choose Delete my data, or email privacy@northwindgoods.com."
    vocab = vocabulary(source)
    added = adds(
        "Click the Delete button in the upper corner of the screen.", source, vocab, "delete my data"
    )
    assert added is not None and added[0] == "new_words"
    assert {"button", "corner", "screen"} <= set(added[1].split(", "))
    # The customer's own words are not the reply's inventions: "screen" and "corner" were asked about.
    asked = "is the delete button in the upper corner of the screen"
    assert adds("Click the Delete button in the upper corner of the screen.", source, vocab, asked) is None
