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
    # PostgreSQL connections per app process: pool_size kept open, up to max_overflow more at peaks.
    # Replicas × (both) must stay under the server's max_connections (storage/db.py).
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=30, ge=0)

    llm_backend: Literal["embedded", "openai"] = "embedded"
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: SecretStr = SecretStr("EMPTY")
    # The served model's tokenizer.json (or its folder), to count tokens in-process; unset: the one
    # in the local Hugging Face cache when it holds `llm_model` (llm.factory.cached_tokenizer), else
    # the server's /tokenize (vLLM, llama.cpp), else an estimate.
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
    # Model states kept so that conversations taking turns each resume from their own prompt (0: off).
    embedded_prompt_cache_mb: int = Field(default=256, ge=0)
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
    # How long an admin console login lasts before the password is asked again.
    admin_session_minutes: int = Field(default=480, ge=1, le=7 * 24 * 60)
    # Integrations (integrations/). Comma-separated keys for the public REST API; admin-created keys
    # add to these. While any key exists, /api/v1/chat and the history need `Authorization: Bearer`.
    api_keys: SecretStr = SecretStr("")
    # The master key channel signing secrets are derived from; unset: one generated into the data dir.
    # Changing it changes every channel's secret.
    webhook_secret: SecretStr | None = None
    # Callbacks to private, loopback or link-local addresses are refused unless this is true.
    allow_private_callbacks: bool = False
    # Tries per callback before it is marked failed (the admin can retry it), and each try's timeout.
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    outbox_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Request rate limits ("N/second|minute|hour|day", several joined by ";"; empty: no limit):
    # per API key, per conversation (a session or a channel's conversation), per anonymous client address.
    rate_limit_per_key: str = "600/minute"
    rate_limit_per_session: str = "30/minute"
    rate_limit_per_ip: str = "300/minute"
    # Origins allowed to call the REST API from a browser (a website widget), comma-separated.
    cors_origins: Annotated[list[str], NoDecode] = []

    @field_validator("company_name", "assistant_name", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("rate_limit_per_key", "rate_limit_per_session", "rate_limit_per_ip")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        if value.strip():
            parse_many(value)  # a ValueError names what is wrong
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

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
