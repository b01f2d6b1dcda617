"""The answer a checked reply ends with: the source sentence that answers (not one merely about the same
thing), the quote added when the kept sentences miss the answer, and near misses named in lower case."""

from __future__ import annotations

import pytest

from grounding.claims import asked_about, places
from grounding.ranking import asks_for, is_yes_no
from tests.utils.grounding import article, check

TRACKING = article("order-tracking")
REWARDS = article("rewards-program")
WARRANTY = article("electronics-warranty")
DAMAGED = article("damaged-or-defective-items")
SHIPPING_COSTS = article("shipping-costs")
SHIPPING_TIMES = article("shipping-times")
RETURNS = article("returns-policy")


# -- what a question asks for (no model) ---------------------------------------------------------------


def test_what_a_question_asks_for() -> None:
    assert asks_for("how long does a refund to paypal take") >= {"duration"}
    assert asks_for("how much do i have to spend to get free shipping") >= {"money"}
    assert asks_for("whats your phone number") == {"phone"}
    assert asks_for("where do i find the serial number for a warranty claim?") == set()
    assert asks_for("forgot my password") == set()


def test_yes_no_questions() -> None:
    assert is_yes_no("do gift cards expire")
    assert is_yes_no("bought a present in late november, can i still return it in january")
    assert not is_yes_no("how do i send something back")
    assert not is_yes_no("where's my package")


def test_places_are_found_in_lower_case_but_not_in_every_to() -> None:
    assert places("what are the opening hours of your store in chicago") == ["chicago"]
    assert places("do you ship to australia") == ["australia"]
    assert places("how much is shipping to new york?") == ["new york"]
    assert places("how long does standard shipping take to new york?") == []  # "to" only after ship/deliver
    assert places("how much do i have to spend to get free shipping") == []
    assert places("my tracking number hasnt updated in like 4 days") == []
    # A time is not a place: "late november" is not a name the sources must contain.
    assert places("bought a present in late november, can i still return it in january") == []
    assert places("will it arrive in the morning from chicago") == ["chicago"]


def test_what_a_question_asks_the_company_has() -> None:
    assert asked_about("do you offer gift wrapping") == ["gift wrapping"]
    assert asked_about("is there a student discount") == ["student discount"]
    assert asked_about("whats the warranty on a sofa") == ["sofa"]
    assert asked_about("is the milk frother covered under the warranty") == ["milk frother"]
    assert asked_about("can i get same-day delivery in seattle") == ["same-day delivery"]
    assert asked_about("how do i send something back") == []
    assert asked_about("if i pay for a whole year up front do i get a discount") == []  # when, not what
    assert asked_about("why is there an extra $29 charge on the rug") == []  # asks why, not whether
    assert asked_about("do you have any other colours") == []  # up to a common word


# -- the quote picks the sentence that answers ---------------------------------------------------------


def test_a_lead_in_is_quoted_with_its_list(checker) -> None:
    verdict = check(checker, "tracking says delivered but theres nothing at my door", "", TRACKING)
    assert verdict.fallback == "extractive", verdict.trace()
    assert "Before contacting us, please: Wait 48 hours." in verdict.text, verdict.text
    assert ":." not in verdict.text


def test_the_next_sentence_of_the_paragraph_finishes_a_conditional_answer(checker) -> None:
    verdict = check(checker, "do my rewards points ever expire", "", REWARDS)
    assert "as long as your account is active" in verdict.text
    assert "12 months" in verdict.text, verdict.text


def test_the_sentence_that_decides_a_yes_no_question_is_quoted(checker) -> None:
    verdict = check(
        checker, "does the warranty cover it if i dropped my bluetooth speaker", "", WARRANTY, DAMAGED
    )
    assert "accidental damage" in verdict.text, verdict.text


def test_the_verb_of_do_you_offer_does_not_pick_the_quote(checker) -> None:
    # "PayPal Pay Later where PayPal offers it" has the question's rarest word, and says nothing of exchanges.
    verdict = check(checker, "do you offer exchanges", "", article("exchanges"), article("payment-methods"))
    assert verdict.fallback == "extractive" and "*Exchanges*" in verdict.text, verdict.text


def test_a_how_long_question_gets_the_duration(checker) -> None:
    verdict = check(checker, "how long does standard shipping take to new york?", "", SHIPPING_TIMES)
    assert verdict.fallback == "extractive", verdict.trace()
    assert "3–7 business days" in verdict.text


# -- kept sentences that miss the answer ---------------------------------------------------------------


def test_a_sentence_that_answers_without_the_answers_numbers_gives_way_to_the_quote(checker) -> None:
    # "Free on US orders" stands for "free on any US order with a subtotal of $49 or more" without the
    # condition that makes it true: the customer gets the sentence that has it.
    question = "how much do i have to spend to get free shipping"
    verdict = check(checker, question, "Standard Shipping is free on US orders.", SHIPPING_COSTS)
    assert verdict.sentences[0].reason == "partial", verdict.trace()
    assert verdict.fallback == "extractive"
    assert "$49" in verdict.text and "Shipping Costs" in verdict.text
    assert "free on US orders." not in verdict.text
    answered = check(
        checker, question, "Standard Shipping is free on US orders of $49 or more.", SHIPPING_COSTS
    )
    assert answered.text == "Standard Shipping is free on US orders of $49 or more.", answered.trace()


def test_a_kept_lead_in_whose_list_was_dropped_is_not_an_empty_answer(checker) -> None:
    reply = (
        "Here is how free shipping works:\n\n- Canada: 10-30 cents per item\n- Australia: 4-6 cents per item"
    )
    verdict = check(checker, "how much do i have to spend to get free shipping", reply, SHIPPING_COSTS)
    assert verdict.text is not None and "$49" in verdict.text, verdict.trace()
    assert "cents" not in verdict.text


# -- near misses ----------------------------------------------------------------------------------------


def test_a_store_in_a_lower_case_city_is_an_honest_dont_know(checker) -> None:
    verdict = check(
        checker,
        "what are the opening hours of your store in chicago",
        "Our store is open from 9 a.m. to 5 p.m.",
        SHIPPING_TIMES,
        RETURNS,
    )
    assert verdict.text is None and verdict.fallback == "no_answer", verdict.trace()


def test_shipping_to_a_country_the_sources_do_not_name_is_a_dont_know(checker) -> None:
    verdict = check(checker, "do you ship to australia", "", article("shipping-to-canada"))
    assert verdict.text is None, verdict.trace()
    assert "australia" in verdict.trace()["quote"]["why_none"]


@pytest.mark.parametrize(
    ("question", "reply", "document"),
    [
        # The promo-code article is about discounts, not about students: "Enter the code in the
        # Discount code box" is no answer, and neither is the model's invention.
        (
            "is there a student discount",
            "Yes, students get 10% off with a valid ID.",
            "promo-codes-and-gift-cards",
        ),
        ("do you offer gift wrapping", "", "promo-codes-and-gift-cards"),
        ("whats the warranty on a sofa", "", "electronics-warranty"),
        ("is the milk frother covered under the warranty", "", "electronics-warranty"),
    ],
)
def test_a_thing_the_sources_never_name_is_an_honest_dont_know(checker, question, reply, document) -> None:
    verdict = check(checker, question, reply, article(document))
    assert verdict.text is None and verdict.fallback == "no_answer", verdict.trace()


def test_a_thing_the_sources_name_is_still_answered(checker) -> None:
    verdict = check(checker, "how long is the warranty on a blender", "", WARRANTY)
    assert verdict.fallback == "extractive", verdict.trace()
    assert "1-year" in verdict.text, verdict.text
    kettle = check(checker, "is the kettle covered under the warranty", "", WARRANTY)
    assert kettle.fallback == "extractive" and "kettle" in kettle.text, kettle.trace()


def test_a_true_sentence_about_another_place_is_not_an_answer(checker) -> None:
    canada = article("shipping-to-canada")
    reply = "We ship to every province and territory in Canada from our warehouse in Portland, Oregon."
    sent, verdict = [], None
    checking = checker.start(question="do you ship to australia", sources=[canada])
    for word in reply.split(" "):
        if out := checking.feed(word + " "):
            sent.append(out)
    verdict = checking.finish()
    assert sent == [] and verdict.text is None, verdict.trace()
    assert verdict.sentences[0].reason == "off_question"
    toronto = check(
        checker, "do you ship to toronto", reply.replace("Canada", "Canada, Toronto included"), canada
    )
    assert toronto.fallback == "none" and toronto.text.startswith("We ship to every province"), (
        toronto.trace()
    )


def test_kept_numbered_items_are_numbered_again() -> None:
    from grounding.sentences import join_units, split_reply

    units = split_reply("Steps:\n\n1. Sign in.\n2. Click Orders.\n3. Pick the order.")
    assert join_units([units[0], units[2], units[3]]) == "Steps:\n\n1. Click Orders.\n2. Pick the order."


@pytest.mark.parametrize(
    ("question", "reply", "document", "reason", "dropped", "quoted"),
    [
        # Close enough to "you can change or cancel it yourself" to pass on similarity; the sentence
        # that answers says the opposite, and the customer must not get both.
        (
            "order status says packed, is it too late to cancel it",
            "You can still cancel your order yourself.",
            "change-or-cancel-order",
            "negation",
            "cancel your order yourself",
            "can no longer be changed or cancelled",
        ),
        # "At any time" where the source gives an hour: dropped before it is compared with the answer.
        (
            "order status says packed, is it too late to cancel it",
            "You can cancel your order at any time.",
            "change-or-cancel-order",
            "unlimited",
            "at any time",
            "can no longer be changed or cancelled",
        ),
        # Found trying the chat: "free of charge", and after it the quote with CA$14.99.
        (
            "How much does shipping to Canada cost?",
            "The shipping to Canada is free of charge.",
            "shipping-to-canada",
            "partial",
            "free of charge",
            "CA$14.99",
        ),
    ],
)
def test_a_reply_never_stands_beside_the_sentence_that_answers_against_it(
    checker, question: str, reply: str, document: str, reason: str, dropped: str, quoted: str
) -> None:
    verdict = check(checker, question, reply, article(document))
    assert verdict.sentences[0].reason == reason, verdict.trace()
    assert verdict.text is not None and dropped not in verdict.text
    assert quoted in verdict.text
