"""The turn with a real knowledge base: retrieval into the prompt, the search tool, citations, trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from agents.turn import AgentConfig, SupportAgent
from knowledge import KnowledgeBase
from knowledge.store import make_chroma_client
from memory import ConversationStore
from prompts import PromptLibrary
from settings import Settings
from storage import make_engine, migrate
from tests.utils.scripted import scripted_backend, tool_call
from tools import make_search_knowledge_base_tool

DEMO = Path(__file__).resolve().parents[2] / "knowledge" / "demo"


@pytest.fixture
def parts(embedder, data_dir: Path):
    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    kb = KnowledgeBase(
        engine=engine,
        chroma=make_chroma_client(settings),
        embedder=embedder,
        uploads_dir=data_dir / "uploads",
        max_upload_bytes=1_000_000,
    )
    for name in (
        "returns-policy.md",
        "electronics-warranty.md",
        "shipping-costs.md",
        "shipping-to-canada.md",
    ):
        kb.ingest(name, (DEMO / name).read_bytes())
    return ConversationStore(engine), kb


def agent_for(parts, script) -> SupportAgent:
    store, kb = parts
    return SupportAgent(
        store=store,
        backend=scripted_backend(script),
        prompts=PromptLibrary(),
        config=AgentConfig(),
        retriever=kb,
        tools=[make_search_knowledge_base_tool(kb)],
    )


def test_retrieved_chunks_reach_the_prompt_and_the_citations(parts) -> None:
    agent = agent_for(parts, [AIMessage(content="You have 30 days.")])
    result = agent.run("How many days do I have to send something back?", session_id=None)

    system, *_, newest = agent.backend.model.calls[0]["messages"]
    assert '<excerpt id="returns-policy:' in newest.content and "30 days" in newest.content
    assert newest.content.endswith("How many days do I have to send something back?")
    assert "<excerpt id=" not in system.content
    assert result.citations[0]["document"] == "returns-policy"
    trace = parts[0].messages(result.session_id)[-1].trace
    assert trace["retrieval"]["chunks"][0]["chunk_id"] == result.citations[0]["chunk_id"]
    assert trace["retrieval"]["chunks"][0]["score"] >= 0.35


def test_the_agent_can_search_again_with_its_own_query(parts) -> None:
    agent = agent_for(
        parts,
        [
            tool_call("search_knowledge_base", {"query": "warranty length for electronics"}),
            AIMessage(content="Electronics carry a warranty."),
        ],
    )
    result = agent.run("My headphones broke, and what about returns?", session_id=None)

    observation = agent.backend.model.calls[1]["messages"][-1]
    assert isinstance(observation, ToolMessage) and 'document="Electronics Warranty"' in observation.content
    assert "electronics-warranty" in {c["document"] for c in result.citations}
    assert result.tool_calls[0]["name"] == "search_knowledge_base"


def test_nothing_relevant_means_an_honest_answer_without_the_model(parts) -> None:
    agent = agent_for(parts, [])
    result = agent.run("What's the weather like in Paris tomorrow?", session_id=None)
    assert "don't know" in result.reply and "human" in result.reply
    assert result.citations == [] and agent.backend.model.calls == []


def test_a_follow_up_question_is_searched_with_the_one_before_it(parts) -> None:
    agent = agent_for(
        parts,
        [AIMessage(content="Yes, we do."), AIMessage(content="Standard shipping to Canada costs CA$14.99.")],
    )
    first = agent.run("Do you ship to Canada?", session_id=None)
    # Nothing passes the relevance threshold for this on its own.
    follow_up = agent.run("and how much is it there?", session_id=first.session_id)

    assert follow_up.citations[0]["document"] == "shipping-to-canada"
    trace = parts[0].messages(first.session_id)[-1].trace
    assert trace["retrieval"]["query"] == "Do you ship to Canada?\nand how much is it there?"
    # A new topic is still searched on its own.
    other = agent_for(parts, [AIMessage(content="30 days.")])
    again = other.run("How long do I have to return an item?", session_id=first.session_id)
    assert again.citations[0]["document"] == "returns-policy"
    assert (
        parts[0].messages(first.session_id)[-1].trace["retrieval"]["query"]
        == "How long do I have to return an item?"
    )
