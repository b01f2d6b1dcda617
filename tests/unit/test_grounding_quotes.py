"""Only the check quotes the sources: a reply sentence dressed as a quotation ("Our X article says:
“…”") is dropped whatever it holds, and the customer gets the real quote instead; a tool's result is
quoted whole, under a name the customer understands.

The article is a made-up bicycle shop's, not the demo help center's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from agents.checking import CheckedAnswer
from agents.events import TurnEvent
from grounding import Source
from tests.utils.grounding import article, check

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


def test_a_tool_result_is_quoted_whole_and_named_for_the_customer(checker) -> None:
    order = "Order NW-1 for Sam: Status: Shipped. Carrier: UPS, tracking number 1Z999AA1."
    answer = CheckedAnswer(checker, "where is my order NW-1", excerpts=[])

    async def turn() -> AsyncGenerator[TurnEvent, None]:
        yield TurnEvent("tool", tool={"name": "lookup_order", "arguments": {}, "result": order})

    async def read() -> None:
        async for _ in answer.events(turn()):
            pass

    asyncio.run(read())
    verdict = answer.verdict("Your order left our warehouse on a boat to Oslo.", [])
    assert verdict is not None and verdict.text is not None, verdict
    assert "*Your order* says" in verdict.text, verdict.text
    assert "UPS, tracking number 1Z999AA1" in verdict.text, verdict.text  # the record quoted whole
    assert "lookup_order" not in verdict.text


def test_a_quoted_sentence_that_leans_on_the_one_before_comes_with_it(checker) -> None:
    # "These take 5–10 business days" is about oversized items: quoted alone, it contradicts the
    # standard 3–7 days it follows in the reply. "If you don't, …" needs what it answers.
    unsupported = "Everything arrives the next morning by drone."
    freight = check(
        checker, "How long do furniture and rugs take to arrive?", unsupported, article("shipping-times")
    )
    assert freight.text is not None
    assert (
        "Furniture-sized items such as shelving units"
        in freight.text.split("These take 5–10 business days")[0]
    )
    returns = check(checker, "What is your return policy?", unsupported, article("returns-policy"))
    assert returns.text is not None and "We want you to love what you bought. If you don't" in returns.text


def test_a_quote_that_starts_with_after_that_comes_with_what_it_follows(checker) -> None:
    wrapping = Source(
        title="Gift Wrapping",
        text=(
            "# Gift Wrapping\n\nGift wrapping costs $4.95 per item and is available on US orders only. "
            "You can remove gift wrapping from an order until it is packed. "
            "After that, the wrapping fee is not refundable.\n\nWrapped items ship in a plain outer box."
        ),
        document="gift-wrapping",
    )
    question = "I changed my mind, can I get the wrapping fee back after the order was packed?"
    verdict = check(checker, question, "No, you cannot get the wrapping fee back.", wrapping)
    assert verdict.text is not None, verdict.trace()
    assert "until it is packed. After that, the wrapping fee is not refundable." in verdict.text


def test_a_quote_that_says_these_addresses_comes_with_the_addresses(checker) -> None:
    # Quoted alone, "Overnight Shipping is not available to these addresses." read as "no overnight
    # shipping" (a second new-user trial).
    question = "Can I get overnight shipping to Alaska?"
    verdict = check(
        checker, question, "Everything arrives the next morning by drone.", article("shipping-times")
    )
    assert verdict.text is not None, verdict.trace()
    assert "Puerto Rico, and APO/FPO/DPO addresses add 3–5 business days to Standard Shipping. Overnight" in (
        verdict.text
    )


def test_two_excerpts_of_one_article_are_quoted_once_under_its_title(checker) -> None:
    # Retrieval found the article as two chunks; the customer reads one quote, not the title twice.
    workshop, highlands = (
        Source(title="Delivery Times", text=text, document="delivery")
        for text in (
            "Orders placed before 2 pm leave the workshop within 3 business days.",
            "Delivery to the Scottish Highlands takes 2 extra days.",
        )
    )
    question = "how long until my bike leaves the workshop, and how much longer for the Scottish Highlands?"
    verdict = check(checker, question, "Everything arrives the next morning by drone.", workshop, highlands)
    assert verdict.text is not None, verdict.trace()
    assert verdict.text.count("Delivery Times") == 1, verdict.text
    assert "within 3 business days" in verdict.text and "2 extra days" in verdict.text, verdict.text


COURIERS = Source(
    title="Couriers",
    text=(
        "# Couriers\n\n"
        "We pick the courier for each bike from its size and your address:\n\n"
        "- **Parcelforce** carries folding bikes and parts.\n"
        "- **DPD** carries most full-size bikes.\n"
        "- **Pallet Express** carries cargo bikes on a pallet.\n\n"
        "You can't choose the courier yourself."
    ),
    document="couriers",
)


def test_an_item_of_a_short_list_is_quoted_with_the_others(checker) -> None:
    # "DPD carries most full-size bikes" alone would answer "which couriers" with one of three.
    verdict = check(checker, "which couriers do you use, dpd?", "We only use Royal Mail.", COURIERS)
    assert verdict.text is not None, verdict.trace()
    for courier in ("Parcelforce", "DPD", "Pallet Express"):
        assert courier in verdict.text, verdict.text


def test_a_pointer_to_another_article_supports_no_claim(checker) -> None:
    # "For orders going to Canada, see Shipping to Canada." (Shipping Times) is the sentence closest
    # to this invention, and says nothing about it: a model's reply in the answer benchmark.
    reply = (
        "The Northwind Goods shipping service is available worldwide and includes both UPS and UPS "
        "Standard delivery times for Canadian orders."
    )
    question = "will I have to pay customs or duty when my package gets to canada"
    verdict = check(checker, question, reply, article("shipping-to-canada"), article("shipping-times"))
    assert not verdict.sentences[0].kept, verdict.trace()
    assert "worldwide" not in (verdict.text or "")


CONTACT = Source(
    title="Contact Us",
    text=(
        "# Contact Us\n\n"
        "## Phone\n\n"
        "Call 1-800-555-0199 (toll-free), Monday to Friday.\n\n"
        "## Chat\n\n"
        "Chat with us by phone or laptop from the Help page, quoting your order number.\n\n"
        "## Your Account\n\n"
        "Keep your phone number up to date in your account so that couriers can reach you."
    ),
    document="contact",
)


def test_the_sentence_under_the_heading_the_question_names_answers_it(checker) -> None:
    # Two sentences have both "phone" and "number"; the one that answers has neither, but stands
    # under "Phone" and is the only one with a phone number.
    verdict = check(checker, "whats your phone number", "", CONTACT)
    assert verdict.text is not None, verdict.trace()
    assert "1-800-555-0199" in verdict.text.split("\n\n")[0], verdict.text


def test_a_question_about_what_cannot_be_done_quotes_what_cannot(checker) -> None:
    # Found by a trial: "Are there items I can't return?" quoted "most items can be returned within
    # 30 days" and the condition list, not the list of items that can't be returned.
    verdict = check(checker, "Are there items I can't return?", "", article("returns-policy"))
    assert verdict.fallback == "extractive", verdict.trace()
    assert "can't be returned or exchanged" in (verdict.text or ""), verdict.text


def test_a_quoted_sentence_that_ends_in_a_quotation_gets_no_second_full_stop(checker) -> None:
    # Found by a trial: …ship "duties paid.".”
    verdict = check(checker, "Do Canadian orders pay duties?", "", article("shipping-to-canada"))
    assert verdict.text is not None and '"duties paid."' in verdict.text, verdict.text
    assert '."."' not in verdict.text and '.".' not in verdict.text
