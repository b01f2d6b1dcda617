"""Prompt files rendered with Jinja2 (StrictUndefined, so a missing variable fails loudly)."""

from prompts.library import PromptLibrary

__all__ = ["PromptLibrary"]
