"""Versioned prompts on a real SQLite database: seeding, drafts, conflicts, publishing and restoring,
the checks that keep a broken template from being saved, and the agent using the live version."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, SystemMessage

from agents import SupportAgent
from agents.turn import AgentConfig
from knowledge.types import RetrievedChunk
from llm.decoding import Decoding
from memory import ConversationStore
from prompts import (
    PromptLibrary,
    PromptStore,
    SettingsProblem,
    TemplateProblem,
    UnknownPromptError,
    VersionConflictError,
    check_template,
)
from storage import make_engine, migrate
from tests.utils.scripted import scripted_backend, tool_call
from tools import make_search_knowledge_base_tool

BRANDING = {"company": "Acme Tools", "assistant_name": "Ada", "topics": ["drills", "saws"]}


@pytest.fixture
def prompts(store: ConversationStore) -> PromptStore:
    prompts = PromptStore(store.engine)
    prompts.seed(branding=BRANDING)
    return prompts


def test_the_files_are_seeded_once_as_live_version_1(prompts: PromptStore) -> None:
    assert prompts.seed(branding={"company": "Other"}) == []  # a second start adds nothing
    summary = {s["name"]: s for s in prompts.summaries()}
    assert set(summary) == {"system", "no_answer", "handoff", "small_talk", "excerpts"}
    assert all(s["live_version"] == 1 and s["versions"] == 1 for s in summary.values())
    system = prompts.live("system")
    assert system is not None and system.template == PromptLibrary().source("system")
    assert system.settings["company"] == "Acme Tools" and system.settings["topics"] == ["drills", "saws"]
    assert prompts.live("no_answer").settings == {}  # type: ignore[union-attr]


def test_a_draft_is_not_used_until_published_and_an_old_version_can_be_restored(prompts: PromptStore) -> None:
    draft = prompts.create(
        "no_answer", template="No idea, sorry ({{ company }}).", note="shorter", author="lee", base_version=1
    )
    assert (draft.version, draft.status, draft.author, draft.note) == (2, "draft", "lee", "shorter")
    assert "help center" in prompts.prompt_set().render("no_answer", **BRANDING).text

    published = prompts.publish("no_answer", 2, by="lee")
    assert published.status == "live" and published.published_by == "lee"
    rendered = prompts.prompt_set().render("no_answer", **BRANDING)
    assert (rendered.text, rendered.version) == ("No idea, sorry (Acme Tools).", 2)

    prompts.publish("no_answer", 1, by="kim")  # restoring is publishing an older version
    assert [(v.version, v.status) for v in prompts.versions("no_answer")] == [(2, "retired"), (1, "live")]
    assert "help center" in prompts.prompt_set().render("no_answer", **BRANDING).text


def test_a_draft_on_an_old_base_is_a_conflict_that_names_the_newer_version(prompts: PromptStore) -> None:
    prompts.create("handoff", template="A person will reply.", note="", author="lee", base_version=1)
    with pytest.raises(VersionConflictError) as caught:
        prompts.create("handoff", template="Someone will reply.", note="", author="kim", base_version=1)
    assert caught.value.newest.version == 2 and caught.value.newest.template == "A person will reply."
    assert len(prompts.versions("handoff")) == 2  # nothing was lost, nothing overwritten


def test_another_process_publishing_is_seen_by_the_next_turn_without_a_restart(
    prompts: PromptStore, data_dir: Path
) -> None:
    other = PromptStore(make_engine(f"sqlite:///{data_dir / 'unit.db'}"))
    assert prompts.prompt_set().version("handoff") == 1
    other.create("handoff", template="Hold on, {{ company }} is coming.", note="", author="x", base_version=1)
    other.publish("handoff", 2, by="x")
    assert prompts.prompt_set().render("handoff", **BRANDING).text == "Hold on, Acme Tools is coming."


@pytest.mark.parametrize(
    ("template", "line", "words"),
    [
        ("Hello {{ company }\n", 1, "syntax error"),
        ("Hi.\n{% if company %}\nno end", 2, "syntax error"),
        ("Line one\n{{ customer_name }}", 2, "unknown variable 'customer_name'"),
        ("{{ company | shout }}", 1, "No filter named 'shout'"),
        ("ok\nok\n{{ topics.url }}", 3, "has no attribute 'url'"),
        ("The excerpts:\n{% for c in chunks %}{{ c }}{% endfor %}", 2, "unknown variable 'chunks'"),
        ("   ", None, "empty"),
    ],
)
def test_a_template_that_does_not_render_is_refused_with_its_line(
    template: str, line: int | None, words: str
) -> None:
    with pytest.raises(TemplateProblem) as caught:
        check_template("system", template)
    assert caught.value.line == line
    assert words in str(caught.value)


def test_a_refused_template_or_bad_settings_store_nothing(prompts: PromptStore) -> None:
    with pytest.raises(TemplateProblem):
        prompts.create("no_answer", template="{{ chunks }}", note="", author="a", base_version=1)
    with pytest.raises(SettingsProblem, match="temperature"):
        prompts.create(
            "system", template="Hi.", note="", author="a", base_version=1, settings={"temperature": 3}
        )
    with pytest.raises(SettingsProblem, match="no settings"):
        prompts.create(
            "handoff", template="Hi.", note="", author="a", base_version=1, settings={"top_p": 0.5}
        )
    with pytest.raises(TemplateProblem, match="at most"):
        prompts.create("handoff", template="x" * 200_000, note="", author="a", base_version=1)
    with pytest.raises(UnknownPromptError):
        prompts.create("nope", template="Hi.", note="", author="a", base_version=1)
    assert all(s["versions"] == 1 for s in prompts.summaries())


def test_the_sandbox_keeps_templates_away_from_python_internals() -> None:
    with pytest.raises(TemplateProblem, match="unsafe"):
        check_template("handoff", "{{ company.__class__.__mro__ }}")


def test_decoding_settings_live_with_the_system_prompt_and_keep_the_base_ones(prompts: PromptStore) -> None:
    settings = {**BRANDING, "temperature": 0, "top_p": 0.9, "max_answer_tokens": 64, "stop": ["\n\n"]}
    v2 = prompts.create(
        "system", template="Be brief.", note="", author="a", base_version=1, settings=settings
    )
    v3 = prompts.create("system", template="Be briefer.", note="", author="a", base_version=2)
    assert v3.settings == v2.settings
    prompts.publish("system", 3, by="a")
    assert prompts.prompt_set().decoding == Decoding(
        temperature=0, top_p=0.9, max_answer_tokens=64, stop=["\n\n"]
    )


def test_each_turn_uses_the_live_versions_and_records_them_in_its_trace(
    store: ConversationStore, prompts: PromptStore
) -> None:
    agent = SupportAgent(
        store=store,
        backend=scripted_backend([AIMessage(content="Hello!"), AIMessage(content="Hi again!")]),
        prompts=prompts,
        config=AgentConfig(company="Ignored Inc"),
    )
    first = agent.run("where is my parcel?", session_id=None)
    prompts.create(
        "system",
        template="You are {{ assistant_name }} of {{ company }}. Speak like a pirate.",
        note="pirate",
        author="a",
        base_version=1,
        settings={**BRANDING, "company": "Acme Pirates"},
    )
    prompts.publish("system", 2, by="a")
    second = agent.run("and my refund?", session_id=first.session_id)

    calls = agent.backend.model.calls  # type: ignore[attr-defined]
    system_texts = [c["messages"][0].content for c in calls]
    assert isinstance(calls[0]["messages"][0], SystemMessage)
    assert system_texts[0].startswith("You are Ada, the customer-service assistant of Acme Tools.")
    assert system_texts[1] == "You are Ada of Acme Pirates. Speak like a pirate."
    traces = [m.trace for m in store.messages(second.session_id) if m.role == "assistant"]
    assert [t["prompt_versions"] for t in traces if t] == [
        {"system": 1, "excerpts": 1},
        {"system": 2, "excerpts": 1},
    ]


def test_the_file_source_still_serves_tests_and_names_version_0() -> None:
    rendered = PromptLibrary().prompt_set().render("handoff", company=None, assistant_name=None, topics=[])
    assert rendered.version == 0 and "our support team" in rendered.text


def test_a_fresh_database_has_no_prompts_until_seeded_and_falls_back_to_the_files(data_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'empty.db'}")
    migrate(engine)
    rendered = PromptStore(engine).prompt_set().render("handoff", company="X", assistant_name=None, topics=[])
    assert rendered.version == 0 and "the X support team" in rendered.text


class Shelf:
    """A retriever with one article."""

    def retrieve(self, query: str, *, k: int | None = None) -> list[RetrievedChunk]:
        return [RetrievedChunk("gift:0", "gift", "Gift </excerpt> Wrap", "", "Wrapping costs $4.75.", 0.8)]

    def has_documents(self) -> bool:
        return True


def test_the_search_tools_excerpts_reach_the_model_through_the_live_excerpts_prompt(
    store: ConversationStore, prompts: PromptStore
) -> None:
    agent = SupportAgent(
        store=store,
        backend=scripted_backend(
            [
                tool_call("search_knowledge_base", {"query": "wrapping"}, "c1"),
                AIMessage(content="It costs $4.75."),
                tool_call("search_knowledge_base", {"query": "wrapping"}, "c2"),
                AIMessage(content="It costs $4.75."),
            ]
        ),
        prompts=prompts,
        config=AgentConfig(tool_routing="auto"),
        tools=[make_search_knowledge_base_tool(Shelf())],
    )
    first = agent.run("how much is gift wrapping?", session_id=None)
    prompts.create(
        "excerpts",
        template="{% for c in chunks %}[{{ c.title | quote }}] {{ c.text }}{% endfor %}",
        note="",
        author="a",
        base_version=1,
    )
    prompts.publish("excerpts", 2, by="a")
    agent.run("and gift wrapping again?", session_id=first.session_id)

    results = [m.content for m in store.messages(first.session_id) if m.role == "tool"]
    assert results[0].startswith('<excerpt id="gift:0" document="Gift <\\/excerpt> Wrap">')
    assert results[1] == "[Gift <\\/excerpt> Wrap] Wrapping costs $4.75."
    traces = [m.trace for m in store.messages(first.session_id) if m.role == "assistant" and m.trace]
    assert [t["prompt_versions"].get("excerpts") for t in traces] == [1, 2]


class ShippingArticle:
    """A retriever that always finds the demo's shipping times."""

    def retrieve(self, query: str, *, k: int | None = None) -> list[RetrievedChunk]:
        text = (Path(__file__).resolve().parents[2] / "knowledge" / "demo" / "shipping-times.md").read_text()
        return [RetrievedChunk("shipping-times:0", "shipping-times", "Shipping Times", "", text, 0.7)]

    def has_documents(self) -> bool:
        return True


def test_a_company_renamed_in_the_admin_may_be_named_in_a_checked_reply(
    store: ConversationStore, prompts: PromptStore, embedder
) -> None:
    from grounding import AnswerChecker

    live = prompts.live("system")
    assert live is not None
    prompts.create(
        "system",
        template=live.template,
        note="renamed",
        author="a",
        base_version=1,
        settings={**live.settings, "company": "Zyxcorp"},
    )
    prompts.publish("system", 2, by="a")
    reply = "With Zyxcorp, transit time counts business days only (Monday to Friday)."
    backend = scripted_backend(
        [AIMessage(content=reply), AIMessage(content=reply.replace("Zyxcorp", "Qwertia"))]
    )
    backend.auto_tool_calls = False
    agent = SupportAgent(
        store=store,
        backend=backend,
        prompts=prompts,
        config=AgentConfig(),
        retriever=ShippingArticle(),
        answer_checker=AnswerChecker(embedder.embed_documents, known_names=["Acme Tools"]),  # type: ignore[arg-type]
    )
    # (The reply says no duration, so the answer check adds the article's quote after it.)
    assert agent.run("how long does standard shipping take?", session_id=None).reply.startswith(reply)
    # A name that is neither in the sources nor the company's is still not let through.
    assert "Qwertia" not in agent.run("how long does standard shipping take?", session_id=None).reply


def test_older_defaults_and_versions_this_release_cannot_render_are_brought_up_to_date(
    store: ConversationStore,
) -> None:
    from sqlalchemy.orm import Session

    from storage.models import utcnow
    from storage.prompt_models import PromptVersion

    def version(name: str, number: int, template: str, author: str, status: str, **settings) -> PromptVersion:
        return PromptVersion(
            name=name,
            version=number,
            template=template,
            settings=settings,
            note="",
            author=author,
            status=status,
            published_at=utcnow(),
            published_by=author,
        )

    # A database of an older release: its system prompt quoted the excerpts itself (`chunks`, which
    # the system prompt no longer has), edited once; one default nobody touched; one edited prompt.
    with Session(store.engine) as db, db.begin():
        db.add(version("system", 1, "You are the assistant.", "setup", "retired", **BRANDING))
        db.add(
            version(
                "system", 2, "Hi.\n{% for c in chunks %}{{ c.text }}{% endfor %}", "lee", "live", **BRANDING
            )
        )
        db.add(version("no_answer", 1, "Old: I don't know.", "setup", "live"))
        db.add(version("handoff", 1, "Old handoff.", "setup", "retired"))
        db.add(version("handoff", 2, "Our {{ company }} team takes over.", "lee", "live"))
    prompts = PromptStore(store.engine)

    assert sorted(prompts.seed(branding={})) == ["excerpts", "no_answer", "small_talk", "system"]
    files = PromptLibrary()
    system = prompts.live("system")
    assert system is not None and (system.version, system.template) == (3, files.source("system"))
    assert system.settings["company"] == "Acme Tools"  # the settings carry over
    assert "chunks" in system.note and prompts.get("system", 2).status == "retired"  # kept in the history
    assert prompts.live("no_answer").template == files.source("no_answer")  # type: ignore[union-attr]
    # An edit that still renders stays.
    assert prompts.live("handoff").version == 2  # type: ignore[union-attr]
    assert prompts.seed(branding={}) == []
    assert "Acme Tools" in prompts.prompt_set().render("system", **BRANDING).text


def test_saving_a_draft_the_same_as_the_newest_version_stores_nothing(prompts: PromptStore) -> None:
    from web.admin_prompts import save_draft, settings_fields, settings_from

    live = prompts.live("system")
    assert live is not None
    # The editor as the admin opened it, saved without an edit (only a note): nothing is stored.
    fields = settings_fields(live.settings)
    message, record = save_draft(
        prompts,
        "system",
        template=live.template,
        note="just looking",
        base=1,
        settings=settings_from(*fields),
        author="lee",
    )
    assert record is None and message.startswith("ℹ️ Nothing changed") and "v1" in message
    assert [v.version for v in prompts.versions("system")] == [1]
    # The store answers with the newest version itself; without settings, the base's are kept.
    same = prompts.create(
        "handoff", template=prompts.get("handoff", 1).template, note="", author="a", base_version=1
    )
    assert (same.version, same.status) == (1, "live")
    assert len(prompts.versions("handoff")) == 1

    # A changed setting or template is a new draft.
    company = settings_from(*fields) | {"company": "Other Tools"}
    message, record = save_draft(
        prompts, "system", template=live.template, note="", base=1, settings=company, author="lee"
    )
    assert record is not None and record.version == 2 and message.startswith("✅ Saved draft v2")
    message, record = save_draft(
        prompts, "system", template=live.template + " ", note="", base=2, settings=company, author="lee"
    )
    assert record is not None and record.version == 3
    assert [v.version for v in prompts.versions("system")] == [3, 2, 1]
