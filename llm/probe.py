"""What an OpenAI-compatible backend can do, asked at start and again while the app serves (every
`max_age_s`, and on `/healthz`): the model it serves,
its context length (vLLM's `max_model_len` in `/v1/models`) and whether tool calling works.

Tool calling is asked twice, both tiny: a request naming a tool in `tool_choice` (vLLM serves it on
any server, by guided decoding: it proves the answer comes back as a parsed tool call) and one
with `tool_choice="auto"` (vLLM refuses it with a 400 unless started with
`--enable-auto-tool-choice --tool-call-parser …`). A server without the tool flags is reported,
and the agent then names its tools itself (routing rules) instead of sending "auto".
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from settings import Settings

log = logging.getLogger(__name__)

PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "ping",
        "description": "Answer the health check.",
        "parameters": {"type": "object", "properties": {}},
    },
}
NO_TOOL_FLAGS = (
    "the model server refuses tool_choice=auto: start vLLM with --enable-auto-tool-choice and "
    "--tool-call-parser (e.g. hermes); until then only routed tools (rules) are used"
)


@dataclass
class BackendProbe:
    """One look at the backend; None where the server was not asked or did not say."""

    reachable: bool
    model: str | None = None
    max_model_len: int | None = None
    named_tool_calls: bool | None = None
    auto_tool_calls: bool | None = None
    problems: list[str] = field(default_factory=list)
    # What the tool-calling probe found wrong (kept while the tools are not asked again).
    tool_problems: list[str] = field(default_factory=list)
    checked_at: float = field(default_factory=time.time)

    def public(self) -> dict[str, Any]:
        return asdict(self)


def effective_context(settings: Settings, probe: BackendProbe | None) -> int:
    """The FIFO budget: the server's `max_model_len` unless FRONTDESK_CONTEXT_TOKENS says less."""
    served = probe.max_model_len if probe is not None else None
    if served is None:
        return settings.context_tokens
    if "context_tokens" in settings.model_fields_set:
        return min(settings.context_tokens, served)
    return served


def probe_backend(settings: Settings, *, timeout_s: float = 10.0, tools: bool = True) -> BackendProbe:
    """Ask the server which model it serves and, with `tools`, whether tool calls work."""
    base = (settings.llm_base_url or "").rstrip("/")
    headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"}
    with httpx.Client(timeout=httpx.Timeout(timeout_s, connect=2.0), headers=headers) as client:
        try:
            response = client.get(f"{base}/models")
            response.raise_for_status()
            served = response.json()["data"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            return BackendProbe(reachable=False, problems=[f"GET {base}/models failed: {_reason(exc)}"])
        probe = BackendProbe(reachable=True)
        ids = [m.get("id") for m in served if isinstance(m, dict)]
        entry = next((m for m in served if m.get("id") == settings.llm_model), None)
        if entry is None and len(served) == 1:
            entry = served[0]
        if entry is None:
            probe.problems.append(f"the server does not serve {settings.llm_model!r} (it serves {ids})")
            return probe
        probe.model = entry.get("id")
        if entry.get("id") != settings.llm_model:
            probe.problems.append(
                f"FRONTDESK_LLM_MODEL is {settings.llm_model!r} but the server serves {probe.model!r}"
            )
        length = entry.get("max_model_len")
        probe.max_model_len = int(length) if isinstance(length, int) and length > 0 else None
        if tools:
            _probe_tools(client, f"{base}/chat/completions", probe.model or settings.llm_model, probe)
    return probe


def _probe_tools(client: httpx.Client, url: str, model: str, probe: BackendProbe) -> None:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "Call the ping tool."}],
        "tools": [PROBE_TOOL],
        # Room for a whole call: a server that parses tool calls from the text (vLLM's hermes parser)
        # finds none in a call cut short.
        "max_tokens": 64,
        "temperature": 0,
    }
    try:
        named = client.post(
            url, json={**body, "tool_choice": {"type": "function", "function": {"name": "ping"}}}
        )
        calls = named.json()["choices"][0]["message"].get("tool_calls") or [] if named.is_success else []
        probe.named_tool_calls = any((c.get("function") or {}).get("name") == "ping" for c in calls)
        if not probe.named_tool_calls:
            probe.tool_problems.append(
                f"a named tool_choice did not come back as a tool call ({_said(named)})"
            )
        auto = client.post(url, json={**body, "tool_choice": "auto", "max_tokens": 1})
        probe.auto_tool_calls = auto.is_success
        if not auto.is_success:
            probe.tool_problems.append(f"{NO_TOOL_FLAGS} ({_said(auto)})")
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        probe.tool_problems.append(f"the tool-calling probe failed: {_reason(exc)}")


def _said(response: httpx.Response) -> str:
    return f"HTTP {response.status_code}: {response.text[:200]}"


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class BackendMonitor:
    """The latest probe, refreshed when older than `max_age_s`; `on_probe` hears each new one."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_age_s: float = 30.0,
        on_probe: Callable[[BackendProbe], None] | None = None,
    ) -> None:
        self.settings = settings
        self.max_age_s = max_age_s
        self.on_probe = on_probe
        self._lock = threading.Lock()
        self._latest: BackendProbe | None = None

    def refresh(self) -> BackendProbe:
        """Probe now. Tools are asked again only until one answer about them came back."""
        previous = self._latest
        known = previous is not None and previous.auto_tool_calls is not None
        probe = probe_backend(self.settings, tools=not known)
        if known and probe.reachable and previous is not None:
            probe.named_tool_calls, probe.auto_tool_calls = (
                previous.named_tool_calls,
                previous.auto_tool_calls,
            )
            probe.tool_problems = list(previous.tool_problems)
        self._latest = probe
        if previous is None or _summary(previous) != _summary(probe):
            _log(probe)
        if self.on_probe is not None:
            self.on_probe(probe)
        return probe

    def current(self) -> BackendProbe:
        with self._lock:
            latest = self._latest
            if latest is None or time.time() - latest.checked_at > self.max_age_s:
                latest = self.refresh()
            return latest


async def keep_fresh(monitor: BackendMonitor) -> None:
    """Probes again whenever the last probe is older than the monitor's `max_age_s`, whether or not
    anything asks `/healthz`: a server that comes up after the app (or comes back, or restarts
    without its tool flags) is noticed and logged, and the window and tool routing follow it.
    Runs until cancelled; the probe's blocking HTTP calls run in a worker thread."""
    while True:
        # `current` probes only when the last probe (this watch's or /healthz's) is that old.
        await asyncio.sleep(monitor.max_age_s)
        try:
            await asyncio.to_thread(monitor.current)
        except Exception:  # a probe that fails unexpectedly must not end the watch
            log.exception("Model backend probe failed")


def _summary(probe: BackendProbe) -> tuple[Any, ...]:
    return (probe.reachable, probe.model, probe.max_model_len, probe.auto_tool_calls, *probe.problems)


def _log(probe: BackendProbe) -> None:
    if not probe.reachable:
        log.warning("Model backend unreachable: %s", "; ".join(probe.problems))
        return
    log.info(
        "Model backend serves %s (max_model_len %s; named tool calls %s, auto tool calls %s)",
        probe.model,
        probe.max_model_len,
        probe.named_tool_calls,
        probe.auto_tool_calls,
    )
    for problem in [*probe.problems, *probe.tool_problems]:
        log.warning("Model backend: %s", problem)


def build_backend_monitor(
    settings: Settings, on_probe: Callable[[BackendProbe], None]
) -> BackendMonitor | None:
    """For the `openai` backend, a monitor that has probed the server once (None: embedded model)."""
    if settings.llm_backend != "openai":
        return None
    monitor = BackendMonitor(settings, on_probe=on_probe)
    monitor.refresh()
    return monitor
