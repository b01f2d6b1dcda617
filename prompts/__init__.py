"""Prompts: the default files (rendered with Jinja2, StrictUndefined, so a missing variable fails
loudly), the versioned copies in the database that the admin edits, and the one interface the agent
renders through (`PromptSource`)."""

from prompts.library import PromptLibrary
from prompts.source import PromptSet, PromptSource, RenderedPrompt, SettingsProblem, SystemSettings
from prompts.store import PromptRecord, PromptStore, UnknownPromptError, VersionConflictError
from prompts.templates import PROMPT_NAMES, TemplateProblem, check_template

__all__ = [
    "PROMPT_NAMES",
    "PromptLibrary",
    "PromptRecord",
    "PromptSet",
    "PromptSource",
    "PromptStore",
    "RenderedPrompt",
    "SettingsProblem",
    "SystemSettings",
    "TemplateProblem",
    "UnknownPromptError",
    "VersionConflictError",
    "check_template",
]
