"""The admin console's Prompts tab: pick a prompt, edit a draft (with the company, assistant name,
topics and decoding settings for the system prompt), see its diff against the live version, try it in
a side chat, publish it, and restore an older version. A thin adapter over the prompt store and the
trial runner (the same rules as the REST routes in web/api_prompts.py)."""

from __future__ import annotations

import difflib
from typing import Any

import gradio as gr

from agents.trial import PromptTooLongError
from agents.validation import InvalidMessageError
from llm.factory import BackendUnavailableError
from memory.store import UnknownSessionError
from prompts import (
    PROMPT_NAMES,
    PromptRecord,
    PromptStore,
    SettingsProblem,
    TemplateProblem,
    UnknownPromptError,
    VersionConflictError,
)
from web.services import Services

VERSION_COLUMNS = ["version", "status", "note", "author", "saved", "published"]
PROBLEMS = (TemplateProblem, SettingsProblem, UnknownPromptError, VersionConflictError)
TRIAL_PROBLEMS = (InvalidMessageError, UnknownSessionError, BackendUnavailableError, UnknownPromptError)


def diff_text(live: str, draft: str) -> str:
    """A unified diff of the draft against the live template ("no changes" when equal)."""
    lines = difflib.unified_diff(
        live.splitlines(), draft.splitlines(), fromfile="live", tofile="draft", lineterm="", n=2
    )
    return "\n".join(lines) or "No changes against the live version."


def save_draft(
    prompts: PromptStore,
    name: str,
    *,
    template: str,
    note: str,
    base: int,
    settings: dict[str, Any] | None,
    author: str,
) -> tuple[str, PromptRecord | None]:
    """Save the editor's draft after version `base`: what the admin is told, and the new version
    (None when nothing was stored: a problem, starting with ❌, or a draft the same as `base`)."""
    try:
        record = prompts.create(
            name, template=template, note=note.strip(), author=author, base_version=base, settings=settings
        )
    except PROBLEMS as exc:
        message = f"❌ Not saved: {exc}"
        if isinstance(exc, VersionConflictError):
            message += " (reload the prompt to edit the newer version)"
        return message, None
    if record.version == base:
        return (
            f"ℹ️ Nothing changed: the draft is the same as v{base} (template and settings), "
            "so no new version was saved.",
            None,
        )
    return f"✅ Saved draft v{record.version}. Try it in the side chat, then publish it.", record


def _when(record: PromptRecord) -> tuple[str, str]:
    published = f"{record.published_at:%b %d %H:%M} by {record.published_by}" if record.published_at else ""
    return f"{record.created_at:%b %d %H:%M}", published


def settings_from(
    company: str,
    assistant: str,
    topics: str,
    temperature: float | None,
    top_p: float | None,
    max_tokens: float | None,
    stop: str,
) -> dict[str, Any]:
    return {
        "company": company,
        "assistant_name": assistant,
        "topics": [t.strip() for t in topics.split(",") if t.strip()],
        "temperature": temperature,
        "top_p": top_p,
        "max_answer_tokens": int(max_tokens) if max_tokens else None,
        # One stop sequence per line; "\n" written out stands for a line break.
        "stop": [s.replace("\\n", "\n") for s in stop.splitlines() if s],
    }


def settings_fields(settings: dict[str, Any]) -> tuple[Any, ...]:
    """A version's settings as the editor's fields show them (the reverse of `settings_from`)."""
    return (
        settings.get("company") or "",
        settings.get("assistant_name") or "",
        ", ".join(settings.get("topics") or []),
        settings.get("temperature"),
        settings.get("top_p"),
        settings.get("max_answer_tokens"),
        "\n".join(s.replace("\n", "\\n") for s in settings.get("stop") or []),
    )


def build_prompts_tab(services: Services, ui: gr.Blocks) -> None:
    """Adds the Prompts tab to `ui`, the Blocks being built (call inside its `with`)."""
    prompts, trials = services.prompts, services.prompt_trials
    if prompts is None:
        return

    def version_rows(name: str) -> list[list[Any]]:
        return [[v.version, v.status, v.note, v.author, *_when(v)] for v in prompts.versions(name)]

    def version_choices(name: str, value: int | None = None) -> gr.Dropdown:
        versions = prompts.versions(name)
        choices = [
            (f"v{v.version} · {v.status}" + (f" · {v.note[:40]}" if v.note else ""), v.version)
            for v in versions
        ]
        return gr.Dropdown(
            choices=choices, value=value if value is not None else (versions[0].version if versions else None)
        )

    def live_template(name: str) -> str:
        live = prompts.live(name)
        return live.template if live is not None else ""

    def info_for(name: str, live: PromptRecord | None) -> str:
        summary = next(s for s in prompts.summaries() if s["name"] == name)
        return (
            f"**{name}** — {summary['description']}  \nVariables: "
            + ", ".join(f"`{v}`" for v in summary["variables"])
            + (f"  \nLive: v{live.version}" if live else "")
        )

    def opened(name: str) -> tuple[Any, ...]:
        """Load the live version into the editor; the newest version is the base of the next draft."""
        versions = prompts.versions(name)
        live = next((v for v in versions if v.status == "live"), None)
        record = live or (versions[0] if versions else None)
        settings = record.settings if record is not None else {}
        return (
            info_for(name, live),
            record.template if record else "",
            versions[0].version if versions else 0,
            version_rows(name),
            version_choices(name, live.version if live else None),
            gr.Accordion(visible=name == "system"),
            *settings_fields(settings),
            "No changes against the live version.",
            "",
        )

    def save(
        name: str,
        template: str,
        note: str,
        base: int,
        company: str,
        assistant: str,
        topics: str,
        temperature: float | None,
        top_p: float | None,
        max_tokens: float | None,
        stop: str,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        settings = (
            settings_from(company, assistant, topics, temperature, top_p, max_tokens, stop)
            if name == "system"
            else None
        )
        message, record = save_draft(
            prompts,
            name,
            template=template,
            note=note,
            base=int(base),
            settings=settings,
            author=request.username or "admin",
        )
        if record is None:
            (gr.Warning if message.startswith("❌") else gr.Info)(message)
            return message, base, gr.skip(), gr.skip()
        return message, record.version, version_rows(name), version_choices(name, record.version)

    def publish(name: str, version: int | None, request: gr.Request) -> tuple[Any, ...]:
        if version is None:
            gr.Warning("Choose a version first.")
            return "Choose a version first.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        live = prompts.live(name)
        if live is not None and live.version == int(version):
            gr.Info(f"v{live.version} is already live.")
            return f"v{live.version} is already live: nothing to publish.", *[gr.skip()] * 4
        try:
            if trials is not None:
                trials.check_fits({name: int(version)})
        except PromptTooLongError as exc:
            gr.Warning(f"Not published: {exc}")
            return f"❌ Not published: {exc}", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        record = prompts.publish(name, int(version), by=request.username or "admin")
        return (
            f"✅ v{record.version} is live: the next turn of every conversation uses it.",
            version_rows(name),
            version_choices(name, record.version),
            diff_text(record.template, record.template),
            info_for(name, record),
        )

    def show_version(name: str, version: int | None) -> str:
        if version is None:
            return ""
        return prompts.get(name, int(version)).template

    def trial(
        name: str, version: int | None, message: str, history: list[dict[str, Any]], session: str | None
    ) -> tuple[Any, ...]:
        if trials is None or version is None:
            gr.Warning("Save a draft (or choose a version) to try it.")
            return message, history, session
        try:
            result, used = trials.run(message, drafts={name: int(version)}, session_id=session)
        except TRIAL_PROBLEMS as exc:
            gr.Warning(str(exc))
            return message, history, session
        versions = ", ".join(f"{k} v{v}" for k, v in sorted(used.items())) or "no prompt"
        history = [
            *history,
            {"role": "user", "content": message},
            {"role": "assistant", "content": result.reply or "(no reply: a person holds the conversation)"},
            {"role": "assistant", "content": f"*used {versions}*"},
        ]
        return "", history, result.session_id

    def new_trial() -> tuple[list[Any], None]:
        return [], None

    with gr.Tab("Prompts"):
        with gr.Row():
            name = gr.Dropdown(
                label="Prompt", choices=list(PROMPT_NAMES), value="system", elem_id="prompts-name"
            )
            reload_button = gr.Button("Reload", elem_id="prompts-reload")
        info = gr.Markdown(elem_id="prompts-info")
        base = gr.State(0)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                editor = gr.Textbox(
                    label="Template (Jinja2)", lines=12, max_lines=30, elem_id="prompts-editor"
                )
                with gr.Accordion(
                    "Company, assistant and decoding (system prompt)", open=False
                ) as settings_box:
                    with gr.Row():
                        company = gr.Textbox(label="Company name", elem_id="prompts-company")
                        assistant = gr.Textbox(label="Assistant name", elem_id="prompts-assistant")
                    topics = gr.Textbox(label="Topics (comma-separated)", elem_id="prompts-topics")
                    with gr.Row():
                        temperature = gr.Number(
                            label="Temperature (0 = greedy; empty: default)", minimum=0, maximum=2
                        )
                        top_p = gr.Number(label="Top-p (empty: default)", minimum=0, maximum=1)
                        max_tokens = gr.Number(
                            label="Max answer tokens (empty: default)", precision=0, minimum=4
                        )
                    stop = gr.Textbox(label="Stop sequences (one a line; \\n for a line break)", lines=2)
                note = gr.Textbox(label="Note (why this change)", elem_id="prompts-note")
                save_button = gr.Button("Save draft", variant="primary", elem_id="prompts-save")
                status = gr.Markdown(elem_id="prompts-status")
                diff = gr.Textbox(
                    label="Diff against the live version", lines=8, interactive=False, elem_id="prompts-diff"
                )
            with gr.Column(scale=2):
                gr.Markdown("**Try it** — a side chat with the chosen version (no customer sees it).")
                trial_chat = gr.Chatbot(label="Trial", height=360, elem_id="prompts-trial-chat")
                trial_box = gr.Textbox(
                    placeholder="A customer's question; Enter to try",
                    show_label=False,
                    elem_id="prompts-trial-input",
                )
                trial_new = gr.Button("New trial conversation", size="sm")
                trial_session = gr.State(None)
        with gr.Row():
            chosen = gr.Dropdown(
                label="Version (the draft, or an older one to restore)", elem_id="prompts-version"
            )
            publish_button = gr.Button("Publish this version", variant="stop", elem_id="prompts-publish")
        shown = gr.Textbox(
            label="The chosen version's template", lines=6, interactive=False, elem_id="prompts-shown"
        )
        versions = gr.Dataframe(headers=VERSION_COLUMNS, interactive=False, elem_id="prompts-versions")

        setting_fields = [company, assistant, topics, temperature, top_p, max_tokens, stop]
        load_outputs = [info, editor, base, versions, chosen, settings_box, *setting_fields, diff, status]
        name.change(opened, inputs=[name], outputs=load_outputs)
        reload_button.click(opened, inputs=[name], outputs=load_outputs)
        editor.change(lambda n, t: diff_text(live_template(n), t), inputs=[name, editor], outputs=[diff])
        save_button.click(
            save,
            inputs=[name, editor, note, base, *setting_fields],
            outputs=[status, base, versions, chosen],
        )
        chosen.change(show_version, inputs=[name, chosen], outputs=[shown])
        publish_button.click(
            publish, inputs=[name, chosen], outputs=[status, versions, chosen, diff, info]
        ).then(lambda n, t: diff_text(live_template(n), t), inputs=[name, editor], outputs=[diff])
        trial_box.submit(
            trial,
            inputs=[name, chosen, trial_box, trial_chat, trial_session],
            outputs=[trial_box, trial_chat, trial_session],
        )
        trial_new.click(new_trial, outputs=[trial_chat, trial_session])
        name.change(new_trial, outputs=[trial_chat, trial_session])
    ui.load(opened, inputs=[name], outputs=load_outputs)
