"""A turn counts only new text: the stored messages' counts are reused, not asked for again
(on the `openai` backend each count may be an HTTP call to the server's tokenizer)."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from agents.turn import AgentConfig, SupportAgent
from memory import ConversationStore
from prompts import PromptLibrary
from tests.utils.scripted import scripted_backend, word_count


def test_the_second_turn_does_not_count_the_first_turns_messages_again(store: ConversationStore) -> None:
    backend = scripted_backend([AIMessage(content="Thirty days."), AIMessage(content="Yes, free.")])
    counted: list[str] = []

    def count_text(text: str) -> int:
        counted.append(text)
        return word_count(text)

    backend.count_text = count_text
    agent = SupportAgent(store=store, backend=backend, prompts=PromptLibrary(), config=AgentConfig())
    first = agent.run("How long do I have to return a lamp?", session_id=None)
    counted.clear()

    agent.run("Is return shipping free?", session_id=first.session_id)

    assert "How long do I have to return a lamp?" not in counted
    assert "Thirty days." not in counted
    assert "Is return shipping free?" in counted  # new text is counted once, when it is stored
    assert counted.count("Is return shipping free?") == 1
    # The model still saw the first turn, as it was stored; the newest message carries this turn's
    # excerpts (here: that none matched) before the customer's words (agents/prompt.py).
    seen = [m.content for m in backend.model.calls[1]["messages"][1:]]
    assert seen[:2] == ["How long do I have to return a lamp?", "Thirty days."]
    assert len(seen) == 3 and seen[2].endswith("\n\nIs return shipping free?")
