"""Frontdesk configuration: one pydantic-settings class read from FRONTDESK_* environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# What the bundled demo help center (Northwind Goods) covers; used only while DEMO_DATA is on.
DEMO_COMPANY_NAME = "Northwind Goods"
DEMO_TOPICS = ["orders", "shipping", "returns", "refunds", "payments", "warranty", "your account"]


class Settings(BaseSettings):
    """Everything the app can be configured with; defaults serve one machine with no set-up."""

    model_config = SettingsConfigDict(env_prefix="FRONTDESK_", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None

    llm_backend: Literal["embedded", "openai"] = "embedded"
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: SecretStr = SecretStr("EMPTY")
    # The served model's tokenizer.json (or its folder), to count tokens in-process; unset: the
    # server's /tokenize (vLLM, llama.cpp), else an estimate.
    llm_tokenizer: Path | None = None
    # How tools are chosen: `rules` (clear intents name their tool, agents/routing.py), `auto` (the
    # model chooses), `both`. Unset: `both` for `openai`, `rules` for the bundled 135M model, which
    # never chooses a tool itself (under "auto" it answers with nothing).
    tool_routing: Literal["rules", "auto", "both"] | None = None
    # The longest a model call may take in all, and the longest wait for its first token (or
    # between two tokens) on the `openai` backend.
    llm_timeout_s: float = Field(default=120.0, gt=0)
    llm_first_token_s: float = Field(default=30.0, gt=0)
    embedded_model_path: Path | None = None
    embedded_threads: int | None = None
    # Unset with `openai`: the server's max_model_len (from /v1/models); set: at most this.
    context_tokens: int = Field(default=2048, ge=256)
    answer_tokens: int = Field(default=256, ge=4)
    max_tool_steps: int = Field(default=4, ge=1, le=20)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)

    max_message_chars: int = Field(default=4000, ge=1)
    # Turns answered at once (the chat's queue and the REST API's worker threads). Unset: 32 for
    # the embedded model (one answer at a time anyway), 256 for `openai` (the server batches).
    chat_concurrency: int | None = Field(default=None, ge=1, le=4096)

    chroma_url: str | None = None
    embedding_backend: Literal["local", "openai"] = "local"
    embedding_base_url: str | None = None
    embedding_model: str = "all-MiniLM-L6-v2"
    retrieval_k: int = Field(default=4, ge=1, le=50)
    retrieval_threshold: float = Field(default=0.35, ge=-1.0, le=1.0)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    demo_data: bool = True
    # How a reply is checked against its sources before it is sent: `checked` keeps the supported
    # sentences (else quotes the sources, else says it doesn't know), `generative` only trims
    # cut-off and repeated sentences, `extractive` always quotes the sources.
    answer_mode: Literal["checked", "generative", "extractive"] = "checked"
    # Who the assistant speaks for, shown on the chat page and written into the prompts. Unset:
    # the demo's values while DEMO_DATA is on, otherwise neutral wording and no topic list.
    company_name: str | None = None
    assistant_name: str | None = None
    # Comma-separated, e.g. "orders, shipping, returns".
    topics: Annotated[list[str] | None, NoDecode] = None

    admin_password: SecretStr | None = None
    api_keys: str = ""
    webhook_secret: SecretStr | None = None

    @field_validator("company_name", "assistant_name", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("topics", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        return value

    @model_validator(mode="after")
    def _demo_defaults(self) -> Settings:
        if self.company_name is None and self.demo_data:
            self.company_name = DEMO_COMPANY_NAME
        if self.topics is None:
            self.topics = list(DEMO_TOPICS) if self.demo_data else []
        return self

    @model_validator(mode="after")
    def _check_backend(self) -> Settings:
        if self.llm_backend == "openai" and not self.llm_base_url:
            raise ValueError("FRONTDESK_LLM_BASE_URL is required when FRONTDESK_LLM_BACKEND=openai")
        if self.embedding_backend == "openai" and not self.embedding_base_url:
            raise ValueError(
                "FRONTDESK_EMBEDDING_BASE_URL is required when FRONTDESK_EMBEDDING_BACKEND=openai"
            )
        if self.answer_tokens >= self.context_tokens // 2:
            raise ValueError("FRONTDESK_ANSWER_TOKENS must be under half of FRONTDESK_CONTEXT_TOKENS")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured database URL, or a SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'frontdesk.db').resolve()}"
