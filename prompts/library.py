"""The default prompt files next to this module (`system.md.j2`, `no_answer.md.j2`, …), rendered as
they are: the prompt source of tests and the seed of the versioned prompts in the database."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, Template

from prompts.source import FILE_VERSION, PromptSet
from prompts.templates import PROMPT_NAMES, make_environment, spoken_list

PROMPTS_DIR = Path(__file__).resolve().parent
SUFFIX = ".md.j2"

__all__ = ["PROMPTS_DIR", "PromptLibrary", "spoken_list"]


class PromptLibrary:
    """Renders the named prompt files; every file is version 0 and has no settings of its own."""

    def __init__(self, folder: Path = PROMPTS_DIR) -> None:
        self.folder = folder
        self._env = make_environment(loader=FileSystemLoader(folder))

    def source(self, name: str) -> str:
        """The template text of `name` (what the database is seeded with)."""
        return (self.folder / f"{name}{SUFFIX}").read_text(encoding="utf-8")

    def names(self) -> list[str]:
        return [n for n in PROMPT_NAMES if (self.folder / f"{n}{SUFFIX}").is_file()]

    def template(self, name: str) -> Template:
        return self._env.get_template(f"{name}{SUFFIX}")

    def render(self, name: str, **variables: Any) -> str:
        return self.template(name).render(**variables).strip()

    def prompt_set(self, drafts: Mapping[str, int] | None = None) -> PromptSet:
        if drafts:
            raise LookupError("the prompt files have no draft versions")
        return PromptSet({n: (FILE_VERSION, self.template(n)) for n in self.names()}, settings=None)
