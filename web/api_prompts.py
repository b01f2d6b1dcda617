"""Admin REST routes for the prompts (`/api/v1/admin/prompts…`, HTTP Basic checked by `AdminGate`):
list them, read one with its versions, save a draft, publish (or restore) a version, try a version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from agents.trial import PromptTooLongError, PromptTrials
from prompts import (
    PromptStore,
    SettingsProblem,
    TemplateProblem,
    UnknownPromptError,
    VersionConflictError,
)
from web.admin_auth import AdminUser
from web.errors import ApiError, error_response
from web.schemas import ChatReply, ErrorBody, PublicModel, error_responses
from web.services import Services, ServicesDep

PROMPT_ERRORS = (UnknownPromptError, TemplateProblem, SettingsProblem, VersionConflictError)


def _prompts(services: ServicesDep) -> PromptStore:
    if services.prompts is None:
        raise ApiError(503, "prompts_disabled", "Versioned prompts are not configured.")
    return services.prompts


PromptsDep = Annotated[PromptStore, Depends(_prompts)]
# A version number as the database stores it (a 32-bit integer).
MAX_VERSION = 2**31 - 1
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A version number of this prompt.")]


class PromptSummary(PublicModel):
    name: str = Field(description="The file stem: `system`, `no_answer`, `handoff`.")
    description: str
    variables: list[str] = Field(description="The variables the template may use.")
    live_version: int | None = Field(description="The version turns use now.")
    newest_version: int | None
    versions: int = Field(description="How many versions are stored.")
    updated_at: str | None = Field(description="When the newest version was saved (ISO 8601).")


class PromptList(PublicModel):
    prompts: list[PromptSummary]


class PromptVersionInfo(PublicModel):
    name: str
    version: int
    status: str = Field(description="`draft` (never published), `live` (in use) or `retired` (was live).")
    note: str
    settings: dict[str, Any] = Field(
        description="`system` only: company, assistant_name, topics, temperature, top_p, "
        "max_answer_tokens, stop; the other prompts have none."
    )
    author: str
    created_at: str
    published_at: str | None
    published_by: str | None


class PromptVersionPublic(PromptVersionInfo):
    template: str = Field(description="The Jinja2 template.")


class PromptDetail(PublicModel):
    name: str
    description: str
    variables: list[str]
    live: PromptVersionPublic | None
    versions: list[PromptVersionInfo] = Field(description="Every version, newest first (without templates).")


class DraftCreate(BaseModel):
    """A new draft; `base_version` is the version it was edited from, which must still be the newest."""

    model_config = ConfigDict(extra="forbid")

    template: StrictStr = Field(description="The Jinja2 template (at most 128 KiB).")
    note: StrictStr = Field(default="", max_length=500, description="Why; shown in the version list.")
    base_version: StrictInt = Field(
        ge=0, le=MAX_VERSION, description="The newest version when editing started."
    )
    settings: dict[str, Any] | None = Field(
        default=None, description="`system` only; absent: the base version's settings are kept."
    )
    author: StrictStr | None = Field(default=None, max_length=64, description="Default: the admin login.")


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    author: StrictStr | None = Field(default=None, max_length=64, description="Default: the admin login.")


class TrialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: StrictStr = Field(description="What a customer would write.")
    session_id: StrictStr | None = Field(
        default=None,
        description="A trial session from an earlier try (trial sessions are not customer sessions).",
    )


class TrialReply(ChatReply):
    prompt_versions: dict[str, int] = Field(description="The prompt versions the turn used (name → version).")


class TemplateErrorBody(ErrorBody):
    line: int | None = Field(default=None, description="The template line with the problem.")


class ConflictBody(ErrorBody):
    newest: PromptVersionPublic = Field(description="The version saved in the meantime; edit from it.")


def _problem(exc: Exception) -> JSONResponse:
    if isinstance(exc, UnknownPromptError):
        return error_response(404, "unknown_prompt", str(exc))
    if isinstance(exc, TemplateProblem):
        return error_response(422, "invalid_template", str(exc), line=exc.line)
    if isinstance(exc, SettingsProblem):
        return error_response(422, "invalid_settings", str(exc))
    assert isinstance(exc, VersionConflictError)
    return error_response(409, "version_conflict", str(exc), newest=exc.newest.public())


def _who(user: str, given: str | None) -> str:
    return (given or "").strip() or user


router = APIRouter(
    prefix="/api/v1/admin/prompts", tags=["admin: prompts"], responses=error_responses(401, 422, 429)
)


@router.get("", summary="Every prompt with its live and newest version", response_model=PromptList)
def list_prompts(_: AdminUser, prompts: PromptsDep) -> dict[str, Any]:
    return {"prompts": prompts.summaries()}


@router.get(
    "/{name}",
    summary="One prompt: its live version and the list of all versions",
    response_model=PromptDetail,
    responses=error_responses(404),
)
def get_prompt(name: str, _: AdminUser, prompts: PromptsDep) -> Any:
    try:
        versions = prompts.versions(name)
    except UnknownPromptError as exc:
        return _problem(exc)
    summary = next(s for s in prompts.summaries() if s["name"] == name)
    live = next((v for v in versions if v.status == "live"), None)
    return {
        "name": name,
        "description": summary["description"],
        "variables": summary["variables"],
        "live": live.public() if live else None,
        "versions": [v.public(with_template=False) for v in versions],
    }


@router.get(
    "/{name}/versions/{version}",
    summary="One version, with its template",
    response_model=PromptVersionPublic,
    responses=error_responses(404),
)
def get_version(name: str, version: VersionPath, _: AdminUser, prompts: PromptsDep) -> Any:
    try:
        return prompts.get(name, version).public()
    except UnknownPromptError as exc:
        return _problem(exc)


@router.post(
    "/{name}/versions",
    summary="Save a draft (it is checked: it must render with the prompt's variables)",
    description="201 with the new draft; 200 with the newest version itself when the draft is the "
    "same as it (the same template and settings; the note does not count): nothing is stored.",
    status_code=201,
    response_model=PromptVersionPublic,
    responses={
        200: {
            "model": PromptVersionPublic,
            "description": "Nothing changed: the draft is the same as `base_version`, returned as it is.",
        },
        404: {"model": ErrorBody, "description": "Unknown prompt."},
        409: {
            "model": ConflictBody,
            "description": "`base_version` is not the newest; the newest is in the body.",
        },
        422: {
            "model": TemplateErrorBody,
            "description": "The template does not render (with its `line`), or bad settings.",
        },
    },
)
def create_version(
    name: str, body: DraftCreate, user: AdminUser, services: ServicesDep, response: Response
) -> Any:
    prompts = _prompts(services)
    try:
        _check_answer_room(services, body.settings)
        record = prompts.create(
            name,
            template=body.template,
            note=body.note.strip(),
            author=_who(user, body.author),
            base_version=body.base_version,
            settings=body.settings,
        )
    except PROMPT_ERRORS as exc:
        return _problem(exc)
    if record.version == body.base_version:
        response.status_code = 200  # the same as the newest version: nothing was stored
    return record.public()


@router.post(
    "/{name}/versions/{version}/publish",
    summary="Publish a version: the next turn of every session uses it (publishing an older one restores it)",
    description="A system prompt that would leave the conversation less than an eighth of the model's "
    "context is refused (422 `prompt_too_long`).",
    response_model=PromptVersionPublic,
    responses=error_responses(404, 422),
)
def publish_version(
    name: str,
    version: VersionPath,
    user: AdminUser,
    services: ServicesDep,
    body: Annotated[PublishRequest | None, Body()] = None,
) -> Any:
    prompts = _prompts(services)
    try:
        prompts.get(name, version)
        if services.prompt_trials is not None:
            services.prompt_trials.check_fits({name: version})
        return prompts.publish(name, version, by=_who(user, body.author if body else None)).public()
    except UnknownPromptError as exc:
        return _problem(exc)
    except PromptTooLongError as exc:
        return error_response(422, "prompt_too_long", str(exc))


@router.post(
    "/{name}/versions/{version}/try",
    summary="Try a version in a trial conversation (real model and knowledge base; no customer data)",
    response_model=TrialReply,
    responses=error_responses(404, 422, 503),
)
def try_version(
    name: str, version: VersionPath, body: TrialRequest, _: AdminUser, services: ServicesDep
) -> Any:
    prompts = _prompts(services)
    trials = _trials(services)
    try:
        prompts.get(name, version)
    except UnknownPromptError as exc:
        return _problem(exc)
    result, used = trials.run(body.message, drafts={name: version}, session_id=body.session_id)
    return {**result.public(), "prompt_versions": used}


def _trials(services: Services) -> PromptTrials:
    if services.prompt_trials is None:
        raise ApiError(503, "trials_disabled", "Trying prompts is not configured.")
    return services.prompt_trials


def _check_answer_room(services: Services, settings: dict[str, Any] | None) -> None:
    """The answer must leave room for the prompt: at most under half of the context."""
    context = services.agent.config.context_tokens
    wanted = (settings or {}).get("max_answer_tokens")
    if isinstance(wanted, int) and wanted >= context // 2:
        raise SettingsProblem(
            f"max_answer_tokens must be under {context // 2} with a context of {context} tokens"
        )
