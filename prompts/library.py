"""Loads the default prompt files next to this module and renders them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

PROMPTS_DIR = Path(__file__).resolve().parent


def _quote(text: str) -> str:
    # Retrieved text is data: it must not be able to close the tag that quotes it.
    return text.replace("</", "<\\/")


def spoken_list(items: list[str], conjunction: str = "or") -> str:
    """`a, b or c`: a list as a sentence says it."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


class PromptLibrary:
    """Renders the named prompt templates (`system.md.j2`, `no_answer.md.j2`, …)."""

    def __init__(self, folder: Path = PROMPTS_DIR) -> None:
        self._env = Environment(
            loader=FileSystemLoader(folder),
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self._env.filters["quote"] = _quote
        self._env.filters["spoken_list"] = spoken_list

    def render(self, name: str, **variables: Any) -> str:
        return self._env.get_template(f"{name}.md.j2").render(**variables).strip()
