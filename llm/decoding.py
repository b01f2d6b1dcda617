"""Decoding settings a prompt version carries (temperature, top-p, answer length, stop sequences),
validated once here and applied by each backend in its own way (llm/factory.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_STOP_SEQUENCES = 4
MAX_STOP_CHARS = 32


class Decoding(BaseModel):
    """How the model samples its answer; an unset field keeps the backend's configured value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, description="0 = greedy; unset: FRONTDESK_TEMPERATURE."
    )
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="Nucleus sampling; unset: 1.")
    max_answer_tokens: int | None = Field(
        default=None, ge=4, le=8192, description="The longest answer; unset: FRONTDESK_ANSWER_TOKENS."
    )
    stop: list[str] = Field(
        default_factory=list,
        max_length=MAX_STOP_SEQUENCES,
        description=f"Up to {MAX_STOP_SEQUENCES} sequences (1–{MAX_STOP_CHARS} characters) that end the answer.",
    )

    @field_validator("stop")
    @classmethod
    def _sensible_stops(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item or len(item) > MAX_STOP_CHARS:
                raise ValueError(f"each stop sequence must have 1 to {MAX_STOP_CHARS} characters")
        return value

    @property
    def is_default(self) -> bool:
        return self == Decoding()
