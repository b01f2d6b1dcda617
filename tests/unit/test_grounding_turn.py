"""The answer check inside a turn: a scripted model, a fixed retriever, the real embedder and store."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from agents import SupportAgent
from agents.turn import AgentConfig
from grounding import AnswerChecker
from knowledge.types import RetrievedChunk
from memory import ConversationStore
from prompts import PromptLibrary
from review import inspect_reply
from tests.utils.scripted import scripted_backend
from web.admin_conversations import inspector_markdown

DEMO = Path(__file__).resolve().parents[2] / "knowledge" / "demo"
RETURNS = (DEMO / "returns-policy.md").read_text()
GIFT_CARDS = (DEMO / "promo-codes-and-gift-cards.md").read_text()


class OneArticle:
    """A retriever that always finds the returns policy."""

    def retrieve(self, query: str, *, k: int | None = None) -> list[RetrievedChunk]:
        return [RetrievedChunk("returns-policy:0", "returns-policy", "Returns Policy", "", RETURNS, 0.7)]

    def has_documents(self) -> bool:
        return True


class TwoArticles(OneArticle):
    """A retriever that finds the returns policy and, less relevant, the gift card article."""

    def retrieve(self, query: str, *, k: int | None = None) -> list[RetrievedChunk]:
        gift_cards = RetrievedChunk(
            "gift-cards:0", "gift-cards", "Promo Codes and Gift Cards", "", GIFT_CARDS, 0.5
        )
        return [*super().retrieve(query), gift_cards]


def make_agent(
    store: ConversationStore, embedder, reply: str, mode: str = "checked", retriever: OneArticle | None = None
) -> SupportAgent:
    backend = scripted_backend([AIMessage(content=reply)])
    backend.auto_tool_calls = False
    return SupportAgent(
        store=store,
        backend=backend,
        prompts=PromptLibrary(),
        config=AgentConfig(),
        retriever=retriever or OneArticle(),
        answer_checker=AnswerChecker(embedder.embed_documents, mode=mode),  # type: ignore[arg-type]
    )


def run(agent: SupportAgent, question: str) -> tuple[str, list[str], dict]:
    stored = agent.accept(question, session_id=None)
    events = list(agent.respond(stored.session_id))
    result = events[-1].result
    assert result is not None
    streamed = [e.text for e in events if e.kind == "token"]
    last = agent.store.messages(stored.session_id)[-1]
    cited = [c["document"] for c in last.citations or []]
    stored_reply = {"stored_reply": last.content, "cited": cited, "message_id": last.id}
    return result.reply, streamed, {**(last.trace or {}), **stored_reply}


def test_a_wrong_number_never_reaches_the_customer(store: ConversationStore, embedder) -> None:
    agent = make_agent(store, embedder, "You can return most items within 14 days.")
    reply, streamed, trace = run(agent, "how many days do i have to return something")

    assert "14 days" not in reply and "30 days" in reply
    assert "".join(streamed) == reply  # only the checked reply is streamed
    assert trace["answer_check"]["fallback"] == "extractive"
    assert trace["answer_check"]["sentences"][0]["reason"] == "number"
    assert trace["stored_reply"] == reply  # what is stored is what was sent


@pytest.mark.parametrize("mode", ["checked", "generative"])
def test_a_supported_reply_is_sent_as_it_is(store: ConversationStore, embedder, mode: str) -> None:
    agent = make_agent(store, embedder, "You can return most items within 30 days.", mode)
    reply, streamed, trace = run(agent, "how many days do i have to return something")

    assert reply == "You can return most items within 30 days."
    assert trace["answer_check"]["fallback"] == "none"


def test_an_invented_store_gets_the_no_answer_reply(store: ConversationStore, embedder) -> None:
    agent = make_agent(store, embedder, "Yes, I do have a physical store in Berlin.")
    reply, _, trace = run(agent, "do you have a physical store in Berlin?")

    assert reply == PromptLibrary().render("no_answer", company=None, topics=[])
    assert trace["handoff_offered"] is True
    assert trace["answer_check"]["fallback"] == "no_answer"


@pytest.mark.parametrize(
    "reply",
    [
        "You can return most items within 30 days.",  # kept: said by the returns policy
        "You can return most items within 14 days.",  # dropped: the returns policy is quoted
    ],
)
def test_sources_name_only_the_articles_the_reply_draws_on(
    store: ConversationStore, embedder, reply: str
) -> None:
    agent = make_agent(store, embedder, reply, retriever=TwoArticles())
    sent, _, trace = run(agent, "how many days do i have to return something")

    assert "30 days" in sent
    assert trace["cited"] == ["returns-policy"]  # the gift card article was read, not used


def test_an_honest_dont_know_cites_nothing(store: ConversationStore, embedder) -> None:
    agent = make_agent(store, embedder, "Yes, I do have a physical store in Berlin.", retriever=TwoArticles())
    _, _, trace = run(agent, "do you have a physical store in Berlin?")

    assert trace["answer_check"]["fallback"] == "no_answer"
    assert trace["cited"] == []


INVENTED = (
    "Our flagship store in Paris is open every day. "
    "Every order ships by drone within the hour. "
    "Each customer also gets a free espresso machine. "
)


def test_a_generation_whose_first_claims_all_fail_is_stopped(store: ConversationStore, embedder) -> None:
    rest = "You can return most items within 30 days. " * 10
    agent = make_agent(store, embedder, INVENTED + rest)
    reply, _, trace = run(agent, "how many days do i have to return something")

    step = trace["steps"][0]
    assert step["finish_reason"] == "unsupported", step
    assert step["output_tokens"] < len((INVENTED + rest).split()) - 40  # most of the rest never generated
    assert trace["answer_check"]["fallback"] == "extractive" and "30 days" in reply
    assert "Paris" not in reply and "drone" not in reply
    # The turn inspector says why the generation ended early.
    turn = inspect_reply(store.engine, trace["message_id"])
    assert "stopped: its first sentences all failed the answer check" in inspector_markdown(turn)


def test_a_generation_with_a_supported_claim_first_runs_to_its_end(
    store: ConversationStore, embedder
) -> None:
    agent = make_agent(store, embedder, "You can return most items within 30 days. " + INVENTED)
    reply, _, trace = run(agent, "how many days do i have to return something")

    assert trace["steps"][0]["finish_reason"] != "unsupported", trace["steps"]
    assert reply.startswith("You can return most items within 30 days.") and "drone" not in reply
