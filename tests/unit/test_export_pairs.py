"""The fine-tuning export's pure parts: conversations as OpenAI chat messages, and DPO pairs from
down-rated replies (a person's later reply, or an up-rated reply to the same question)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from memory.store import StoredMessage
from review.export import ExportFilters, Reply, chat_messages, dpo_pairs, liked_answers, sft_examples

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Conversation:
    """Builds a stored conversation the way the agent stores one (ids in order, replies threaded)."""

    def __init__(self, session_id: str, first_id: int) -> None:
        self.session_id, self.next_id = session_id, first_id
        self.rows: list[StoredMessage] = []
        self.ratings: dict[int, str] = {}
        self.versions: dict[int, int] = {}
        self.handovers: set[int] = set()

    def _add(self, role: str, content: str, **fields) -> StoredMessage:
        row = StoredMessage(
            id=self.next_id,
            session_id=self.session_id,
            role=role,
            content=content,
            created_at=T0 + timedelta(minutes=self.next_id),
            **fields,
        )
        self.next_id += 1
        self.rows.append(row)
        return row

    def turn(
        self,
        question: str,
        answer: str,
        *,
        rating: str | None = None,
        version: int | None = None,
        handed_over: bool = False,
    ) -> StoredMessage:
        asked = self._add("user", question, status="answered")
        self._add(
            "assistant",
            "",
            tool_calls=[{"name": "lookup_order", "args": {"order_id": "NW-1"}, "id": "c1"}],
            reply_to=asked.id,
        )
        self._add("tool", "Order NW-1 for maria@example.com, 12 Elm St", tool_call_id="c1", reply_to=asked.id)
        reply = self._add("assistant", answer, reply_to=asked.id)
        if rating:
            self.ratings[reply.id] = rating
        if version:
            self.versions[reply.id] = version
        if handed_over:
            self.handovers.add(reply.id)
        return reply

    def person(self, text: str) -> StoredMessage:
        return self._add("human_agent", text)

    def failed(self, question: str) -> StoredMessage:
        return self._add("user", question, status="failed")

    def loaded(self) -> tuple[list[StoredMessage], list[Reply]]:
        by_id = {m.id: m for m in self.rows}
        replies = [
            Reply(
                message=m,
                question=by_id.get(m.reply_to) if m.reply_to else None,
                rating=self.ratings.get(m.id),
                prompt_version=self.versions.get(m.id),
                handed_over=m.id in self.handovers,
            )
            for m in self.rows
            if m.role == "human_agent" or (m.is_final_reply and m.reply_to is not None)
        ]
        return self.rows, replies


def test_a_conversation_becomes_chat_messages_without_tools_or_failed_messages() -> None:
    c = Conversation("s1", 1)
    c.turn("Where is NW-1?", "It shipped yesterday.")
    c.failed("hello??")
    c.person("Hi, Ana here. It arrives Friday.")
    assert chat_messages(c.rows) == [
        {"role": "user", "content": "Where is NW-1?"},
        {"role": "assistant", "content": "It shipped yesterday.\n\nHi, Ana here. It arrives Friday."},
    ]
    text = str(chat_messages(c.rows))
    assert "12 Elm St" not in text and "lookup_order" not in text and "s1" not in text


def test_sft_keeps_conversations_with_a_reply_matching_the_filters() -> None:
    good, bad, old = Conversation("a", 1), Conversation("b", 100), Conversation("c", 200)
    good.turn("Return window?", "30 days.", rating="up", version=2)
    bad.turn("Return window?", "No idea.", rating="down", version=1)
    old.turn("Shipping?", "Free over $50.")
    loaded = [good.loaded(), bad.loaded(), old.loaded()]

    everything = list(sft_examples(loaded, ExportFilters()))
    assert len(everything) == 3 and all(e["messages"][0]["role"] == "user" for e in everything)
    liked = list(sft_examples(loaded, ExportFilters(rating="up")))
    assert [e["messages"][-1]["content"] for e in liked] == ["30 days."]
    assert [e["messages"][-1]["content"] for e in sft_examples(loaded, ExportFilters(prompt_version=1))] == [
        "No idea."
    ]
    later = ExportFilters(since=T0 + timedelta(minutes=150))
    assert [e["messages"][-1]["content"] for e in sft_examples(loaded, later)] == ["Free over $50."]
    assert list(sft_examples([], ExportFilters())) == []


def test_a_down_rated_reply_pairs_with_the_persons_reply_that_followed() -> None:
    c = Conversation("s", 1)
    c.turn("Hi", "Hello! How can I help?")
    c.turn("Can I return a used blender?", "Blenders are great.", rating="down")
    # Asking for a person is not moving on: the person's reply answers the disliked one.
    c.turn("I want a person", "A person will take over.", handed_over=True)
    c.person("Yes, within 30 days if it is not damaged.")
    pairs = list(dpo_pairs([c.loaded()], ExportFilters(), liked={}))
    assert pairs == [
        {
            "prompt": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello! How can I help?"},
                {"role": "user", "content": "Can I return a used blender?"},
            ],
            "chosen": "Yes, within 30 days if it is not damaged.",
            "rejected": "Blenders are great.",
        }
    ]


def test_without_a_person_an_up_rated_answer_to_the_same_question_is_chosen() -> None:
    before, after, unmatched = Conversation("old", 1), Conversation("new", 100), Conversation("x", 200)
    before.turn("How long is the  warranty?", "I do not know.", rating="down")
    after.turn("how long is the warranty?", "Two years on electronics.", rating="up")
    unmatched.turn("Do you ship to Mars?", "Yes.", rating="down")
    # The customer moved on to a question the bot answered: a later person's reply is about that.
    unmatched.turn("Ok and to Canada?", "Yes, 5 days.")
    unmatched.person("Sorry, we do not ship to Mars.")
    loaded = [before.loaded(), after.loaded(), unmatched.loaded()]
    pairs = list(dpo_pairs(loaded, ExportFilters(), liked_answers(loaded)))
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("Two years on electronics.", "I do not know.")]
    assert pairs[0]["prompt"] == [{"role": "user", "content": "How long is the  warranty?"}]
    # Filters apply to the rejected reply: its date and its prompt version.
    assert list(dpo_pairs(loaded, ExportFilters(prompt_version=3), liked_answers(loaded))) == []
    assert list(dpo_pairs(loaded, ExportFilters(until=T0), liked_answers(loaded))) == []


def test_a_message_sent_while_the_first_was_answered_comes_after_its_reply_in_the_export() -> None:
    c = Conversation("s", 1)
    first = c._add("user", "Return window?", status="answered")
    second = c._add("user", "And shipping?", status="answered")
    disliked = c._add("assistant", "No idea.", reply_to=first.id)
    c._add("assistant", "Free over $50.", reply_to=second.id)
    c.ratings[disliked.id] = "down"
    assert chat_messages(c.rows) == [
        {"role": "user", "content": "Return window?"},
        {"role": "assistant", "content": "No idea."},
        {"role": "user", "content": "And shipping?"},
        {"role": "assistant", "content": "Free over $50."},
    ]
    liked = {"return window?": "30 days."}
    pairs = list(dpo_pairs([c.loaded()], ExportFilters(), liked=liked))
    # The prompt ends with the question the disliked reply answers, not the message sent after it.
    assert pairs == [
        {
            "prompt": [{"role": "user", "content": "Return window?"}],
            "chosen": "30 days.",
            "rejected": "No idea.",
        }
    ]
