"""The one interface the agent renders prompts through (`PromptSource` → a per-turn `PromptSet`), and
the settings a prompt version carries: the company, assistant name and topics, and the decoding
settings, both with the system prompt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import Template
from pydantic import ConfigDict, Field, ValidationError, field_validator

from llm.decoding import Decoding

# A file prompt (prompts/*.md.j2) has this version; database versions count from 1.
FILE_VERSION = 0


class SettingsProblem(ValueError):
    """Settings a prompt version cannot have."""


class SystemSettings(Decoding):
    """The system prompt's settings: who the assistant speaks for, and how the model decodes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    company: str | None = Field(
        default=None, max_length=200, description="The company's name; none: neutral wording."
    )
    assistant_name: str | None = Field(
        default=None, max_length=100, description="The name the assistant gives itself."
    )
    topics: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="What the assistant can help with (offered when it does not know).",
    )

    @field_validator("company", "assistant_name", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("topics")
    @classmethod
    def _clean_topics(cls, value: list[str]) -> list[str]:
        topics = [t.strip() for t in value if t.strip()]
        if any(len(t) > 100 for t in topics):
            raise ValueError("a topic has at most 100 characters")
        return topics

    def branding(self) -> dict[str, Any]:
        return {"company": self.company, "assistant_name": self.assistant_name, "topics": list(self.topics)}

    def decoding(self) -> Decoding:
        return Decoding(**self.model_dump(include=set(Decoding.model_fields)))


def check_settings(name: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The validated settings of a version of `name` (only the system prompt has any)."""
    if name != "system":
        if settings:
            raise SettingsProblem(
                f"the {name} prompt has no settings (company and decoding live with 'system')"
            )
        return {}
    try:
        return SystemSettings.model_validate(dict(settings or {})).model_dump()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsProblem(f"invalid settings: {problems}") from None


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    text: str
    version: int


class PromptSet:
    """The prompts one turn uses, fixed when the turn starts: every render in the turn sees the same
    versions, and `used` records which (name → version) the turn rendered, for its trace."""

    def __init__(
        self, templates: Mapping[str, tuple[int, Template]], settings: SystemSettings | None
    ) -> None:
        self._templates = dict(templates)
        self._settings = settings
        self.used: dict[str, int] = {}

    def render(self, name: str, **variables: Any) -> RenderedPrompt:
        version, template = self._templates[name]
        text = template.render(**variables).strip()
        self.used[name] = version
        return RenderedPrompt(name, text, version)

    def version(self, name: str) -> int:
        return self._templates[name][0]

    @property
    def branding(self) -> dict[str, Any] | None:
        """Company, assistant name and topics from the system prompt's settings; None: not stored
        with the prompts (the file source), so the caller's own configuration applies."""
        return self._settings.branding() if self._settings is not None else None

    @property
    def decoding(self) -> Decoding:
        return self._settings.decoding() if self._settings is not None else Decoding()


class PromptSource(Protocol):
    """Where a turn's prompts come from: the files (tests, defaults) or the versioned database."""

    def prompt_set(self, drafts: Mapping[str, int] | None = None) -> PromptSet:
        """The live prompts, with `drafts` (name → version) used instead of the live ones."""
        ...
