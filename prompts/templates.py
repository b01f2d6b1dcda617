"""What a prompt template is: the names the agent renders, the variables each may use, the Jinja2
environment (sandboxed, StrictUndefined, the `quote` and `spoken_list` filters), and the check that
refuses a template with a syntax error or an unknown variable, saying on which line."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from knowledge.types import RetrievedChunk

# A prompt is text for a model's context or a reply; more than this is a mistake, not a prompt.
MAX_TEMPLATE_CHARS = 128 * 1024
BRANDING_VARIABLES = frozenset({"company", "assistant_name", "topics"})


@dataclass(frozen=True)
class PromptSpec:
    name: str
    description: str
    variables: frozenset[str]


PROMPT_SPECS: dict[str, PromptSpec] = {
    spec.name: spec
    for spec in (
        PromptSpec(
            "system",
            "The assistant's persona and rules, the same on every turn (so a model server can reuse it "
            "and the conversation after it from its prefix cache); the turn's excerpts go with the "
            "customer's newest message (`excerpts`). Its settings hold the company, assistant name, "
            "topics and the decoding settings.",
            BRANDING_VARIABLES,
        ),
        PromptSpec(
            "no_answer",
            'The honest "I don\'t know" reply, with the offer of a person.',
            BRANDING_VARIABLES,
        ),
        PromptSpec("handoff", "The reply when the conversation is handed to a person.", BRANDING_VARIABLES),
        PromptSpec(
            "small_talk",
            "The reply to a message that asks nothing: `kind` is `greeting` (hello, who are you?), "
            "`thanks` or `goodbye` (agents/small_talk.py).",
            BRANDING_VARIABLES | {"kind"},
        ),
        PromptSpec(
            "excerpts",
            "How help-center excerpts (`chunks`) are shown to the model: at the start of the "
            "customer's newest message, and as the knowledge-base search tool's results.",
            BRANDING_VARIABLES | {"chunks"},
        ),
    )
}
PROMPT_NAMES = tuple(PROMPT_SPECS)

_SAMPLE_CHUNK = RetrievedChunk(
    "returns-policy:0",
    "returns-policy",
    "Returns Policy",
    "Returns",
    "You have 30 days from delivery to return an unused item.",
    0.82,
)
# Every template is rendered with both: a variable used only in one branch is still checked.
SAMPLE_VARIABLES: tuple[dict[str, Any], ...] = (
    {
        "company": "Northwind Goods",
        "assistant_name": "Ada",
        "topics": ["orders", "shipping", "returns"],
        "chunks": [_SAMPLE_CHUNK, _SAMPLE_CHUNK],
        "kind": "greeting",
    },
    {"company": None, "assistant_name": None, "topics": [], "chunks": [], "kind": "goodbye"},
)


def quote(text: str) -> str:
    """Retrieved text is data: it must not be able to close the tag that quotes it."""
    return str(text).replace("</", "<\\/")


def spoken_list(items: list[str], conjunction: str = "or") -> str:
    """`a, b or c`: a list as a sentence says it."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def make_environment(**options: Any) -> ImmutableSandboxedEnvironment:
    """The one environment prompts render in; sandboxed, since admins write templates in the browser."""
    from jinja2 import StrictUndefined

    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False, **options
    )
    env.filters["quote"] = quote
    env.filters["spoken_list"] = spoken_list
    return env


class TemplateProblem(ValueError):
    """A template that cannot be used; `line` is where the problem is (1-based), when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.line = line


_ENV = make_environment()


def check_template(name: str, source: str) -> None:
    """Raise TemplateProblem unless `source` compiles, uses only `name`'s variables and renders
    with the sample variables (StrictUndefined: an unknown attribute fails too)."""
    spec = PROMPT_SPECS.get(name)
    if spec is None:
        raise TemplateProblem(f"there is no prompt named {name!r}")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateProblem(f"the template has {len(source)} characters; at most {MAX_TEMPLATE_CHARS}")
    if not source.strip():
        raise TemplateProblem("the template is empty")
    try:
        tree = _ENV.parse(source)
        # Compiles the tree too: an unknown filter or test is found here.
        unknown = meta.find_undeclared_variables(tree) - spec.variables - set(_ENV.globals)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"syntax error: {exc.message}", exc.lineno) from None
    if unknown:
        first = min((n for n in tree.find_all(nodes.Name) if n.name in unknown), key=lambda n: n.lineno)
        allowed = ", ".join(sorted(spec.variables))
        raise TemplateProblem(f"unknown variable {first.name!r} (this prompt has: {allowed})", first.lineno)
    try:
        template = _ENV.from_string(source)
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found when compiling
        raise TemplateProblem(f"syntax error: {exc.message}", exc.lineno) from None
    for sample in SAMPLE_VARIABLES:
        try:
            template.render(**{k: v for k, v in sample.items() if k in spec.variables})
        except TemplateError as exc:
            raise TemplateProblem(str(exc.message or exc), _template_line(sys.exc_info()[2])) from None
        except Exception as exc:  # a filter given the wrong type, a division by zero, …
            raise TemplateProblem(f"{type(exc).__name__}: {exc}", _template_line(sys.exc_info()[2])) from None


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line of the innermost frame that ran template code (Jinja rewrites tracebacks)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


__all__ = [
    "MAX_TEMPLATE_CHARS",
    "PROMPT_NAMES",
    "PROMPT_SPECS",
    "PromptSpec",
    "TemplateProblem",
    "check_template",
    "make_environment",
    "quote",
    "spoken_list",
]
