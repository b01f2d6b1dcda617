"""Kept sentences that are close to the sources but do not say what the answering source sentence says
(its number, duration, time, price or name) get the quote after them; those that do, do not.

The articles are a made-up bicycle shop's, not the demo help center's: the rule must hold on any."""

from __future__ import annotations

from grounding import Source
from tests.utils.grounding import check

REPAIRS = Source(
    title="Repairs and Servicing",
    text=(
        "# Repairs and Servicing\n\n"
        "We service every brand of bicycle, including e-bikes and cargo bikes. "
        "A standard tune-up includes brake, gear and wheel adjustment.\n\n"
        "## Turnaround\n\n"
        "Bikes dropped off before noon on a weekday are usually ready the same day. "
        "Bikes dropped off after noon are ready within 2 business days. "
        "We text you when your bike is ready for pickup."
    ),
    document="repairs",
)
FINANCING = Source(
    title="Paying for Your Bike",
    text=(
        "# Paying for Your Bike\n\n"
        "We accept credit cards, debit cards and cash in the shop. "
        "Financing for e-bikes and cargo bikes is offered through Bikeloan at checkout. "
        "Gift vouchers can be used for repairs and accessories."
    ),
    document="paying",
)
QUESTION = "i dropped my bike off this afternoon, will it be ready today"


def test_a_close_sentence_without_the_answers_duration_gets_the_quote(checker) -> None:
    reply = "Bikes dropped off in the afternoon are usually ready for pickup."
    verdict = check(checker, QUESTION, reply, REPAIRS)
    assert verdict.fallback == "none", verdict.trace()
    assert verdict.text.startswith(reply), verdict.trace()
    assert "2 business days" in verdict.text, verdict.trace()
    assert verdict.quote and verdict.quote["appended"], verdict.trace()


def test_a_close_sentence_without_the_answers_name_gets_the_quote(checker) -> None:
    reply = "Yes, we offer financing for e-bikes and cargo bikes at checkout."
    verdict = check(checker, "do you offer financing for an e-bike", reply, FINANCING)
    assert verdict.fallback == "none", verdict.trace()
    assert "Bikeloan" in verdict.text, verdict.trace()


def test_a_sentence_that_says_the_answer_is_sent_alone(checker) -> None:
    reply = "Bikes dropped off after noon are ready within 2 business days."
    verdict = check(checker, QUESTION, reply, REPAIRS)
    assert verdict.text == reply, verdict.trace()
    financed = "Financing for e-bikes is offered through Bikeloan at checkout."
    verdict = check(checker, "do you offer financing for an e-bike", financed, FINANCING)
    assert verdict.text == financed, verdict.trace()


SIZING = Source(
    title="Choosing a Frame Size",
    text=(
        "# Choosing a Frame Size\n\n"
        "The frame size of your bike is printed on the seat tube, just above the bottom bracket. "
        "Our size chart matches your height to a frame size. "
        "If you are between two sizes, pick the smaller one for a more upright ride."
    ),
    document="sizing",
)


def test_a_close_sentence_that_says_something_else_gets_the_quote(checker) -> None:
    question = "where can i find the frame size of my bike"
    reply = "You can find the frame size of your bike on your receipt."
    verdict = check(checker, question, reply, SIZING)
    assert verdict.text.startswith(reply), verdict.trace()
    assert "seat tube" in verdict.text, verdict.trace()
    said = "The frame size is printed on the seat tube of your bike, above the bottom bracket."
    assert check(checker, question, said, SIZING).text == said


BOOKINGS = Source(
    title="Repair Bookings",
    text=(
        "# Repair Bookings\n\n"
        "Book a repair online or in the shop. "
        "A booked repair can be moved to another day free of charge before the mechanic has started on it."
    ),
    document="bookings",
)


def test_a_yes_without_the_sources_condition_gets_the_quote(checker) -> None:
    # Close to the article, and says some of what it adds ("free of charge"), but not *when* you can.
    question = "can i move my repair booking to another day?"
    reply = "Yes, you can move your repair booking to another day free of charge."
    verdict = check(checker, question, reply, BOOKINGS)
    assert verdict.text.startswith(reply), verdict.trace()
    assert "before the mechanic has started on it" in verdict.text, verdict.trace()
    conditional = (
        "Yes, you can move your repair booking to another day before the mechanic has started on it."
    )
    assert check(checker, question, conditional, BOOKINGS).text == conditional
