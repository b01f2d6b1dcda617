"""The `calculator` tool: arithmetic on prices and amounts, by an AST walker over exact decimals
(never `eval`), with bounds on length, literals, exponents and magnitudes.

`%` is a percent: `A - 10%` is A minus 10 % of A, `A + 10%` adds 10 % of A, `10% of A` and
`A * 10%` are 10 % of A, and a lone `10%` is 0.1. There is no modulo operator.
"""

from __future__ import annotations

import ast
import decimal
import re
from dataclasses import dataclass
from decimal import Decimal

from langchain_core.tools import BaseTool, StructuredTool, ToolException

MAX_EXPRESSION_CHARS = 200
MAX_LITERAL_DIGITS = 30
MAX_EXPONENT = 100
MAX_MAGNITUDE = Decimal("1e15")
MAX_NODES = 120
SHOWN_DECIMALS = 10

_CONTEXT = decimal.Context(
    prec=34,
    Emax=999,
    Emin=-999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
# Words a model or customer writes for operators; every other letter is refused.
_WORDS = [
    (re.compile(r"\bdivided\s+by\b", re.I), "/"),
    (re.compile(r"\bmultiplied\s+by\b", re.I), "*"),
    (re.compile(r"\btimes\b", re.I), "*"),
    (re.compile(r"\bplus\b", re.I), "+"),
    (re.compile(r"\bminus\b", re.I), "-"),
    # "3 x 19.99" with spaces only: "0x10" is refused as letters rather than read as 0 × 10.
    (re.compile(r"(?<=[\d)])\s+x\s+(?=[\d(.$])", re.I), " * "),
    (re.compile(r"%\s*of\b", re.I), "% *"),
]
_SYMBOLS = str.maketrans({"×": "*", "✕": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "^": "**"})
_CURRENCY = re.compile(r"[$€£]|\b(?:US|CA)\$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_PERCENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*%")
_ALLOWED = re.compile(r"[\d\s.+\-*/()%]*")
_PERCENT_CALL = "_percent"
HOW_TO_WRITE = "write it with numbers and + - * / ** ( ) %, for example 3*19.99 - 10%"


class CalculationError(ValueError):
    """The expression cannot be calculated; the message says why, for the model or the customer."""


@dataclass(frozen=True)
class _Percent:
    """A `N%` operand; what it means depends on the operator it meets."""

    value: Decimal

    @property
    def fraction(self) -> Decimal:
        return self.value / 100


def _plain(value: Decimal | _Percent) -> Decimal:
    return value.fraction if isinstance(value, _Percent) else value


def _normalize(expression: str) -> str:
    text = expression.translate(_SYMBOLS)
    text = _CURRENCY.sub("", text)
    text = _THOUSANDS.sub("", text)
    for pattern, replacement in _WORDS:
        text = pattern.sub(replacement, text)
    text = text.strip().rstrip("=?").strip()
    if not text:
        raise CalculationError(f"the expression is empty; {HOW_TO_WRITE}")
    if not _ALLOWED.fullmatch(text):
        bad = next(c for c in text if not _ALLOWED.fullmatch(c))
        kind = "letters" if bad.isalpha() else f"the character {bad!r}"
        raise CalculationError(f"the expression may not contain {kind}; {HOW_TO_WRITE}")
    return text


class _Walker:
    """Evaluates an already parsed expression node by node, checking every intermediate result."""

    def __init__(self, source: str) -> None:
        self.source = source

    def value(self, node: ast.AST) -> Decimal | _Percent:
        if isinstance(node, ast.Expression):
            return self.value(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return self.literal(ast.get_source_segment(self.source, node) or "")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == _PERCENT_CALL
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant)
        ):
            return _Percent(self.literal(ast.get_source_segment(self.source, node.args[0]) or ""))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
            operand = self.value(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            return _Percent(-operand.value) if isinstance(operand, _Percent) else -operand
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        raise CalculationError(f"the expression cannot be calculated; {HOW_TO_WRITE}")

    def literal(self, text: str) -> Decimal:
        if sum(c.isdigit() for c in text) > MAX_LITERAL_DIGITS:
            raise CalculationError(f"a number has more than {MAX_LITERAL_DIGITS} digits")
        return self.checked(Decimal(text))

    def binary(self, node: ast.BinOp) -> Decimal:
        left, right = self.value(node.left), self.value(node.right)
        op = node.op
        if (
            isinstance(op, ast.Add | ast.Sub)
            and isinstance(right, _Percent)
            and not isinstance(left, _Percent)
        ):
            # "59.97 - 10%": the percent is of the amount before it.
            change = left * right.fraction
            return self.checked(left + change if isinstance(op, ast.Add) else left - change)
        a, b = _plain(left), _plain(right)
        if isinstance(op, ast.Add):
            return self.checked(a + b)
        if isinstance(op, ast.Sub):
            return self.checked(a - b)
        if isinstance(op, ast.Mult):
            return self.checked(a * b)
        if isinstance(op, ast.Div):
            if b == 0:
                raise CalculationError("division by zero is undefined")
            return self.checked(a / b)
        if isinstance(op, ast.Pow):
            return self.power(a, b)
        symbol = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@"}.get(type(op), type(op).__name__)
        raise CalculationError(f"the operator {symbol} is not supported; {HOW_TO_WRITE}")

    def power(self, base: Decimal, exponent: Decimal) -> Decimal:
        if abs(exponent) > MAX_EXPONENT:
            raise CalculationError(f"exponents are limited to ±{MAX_EXPONENT}")
        if base == 0 and exponent < 0:
            raise CalculationError("division by zero is undefined (zero to a negative power)")
        if base < 0 and exponent != exponent.to_integral_value():
            raise CalculationError("a negative number has no real fractional power")
        if exponent == exponent.to_integral_value():
            # Integral exponents stay exact; the magnitude is checked before the multiplication.
            if base != 0 and exponent * abs(base).log10() > MAX_MAGNITUDE.log10() + 1:
                raise CalculationError(f"the result is too large (the limit is {MAX_MAGNITUDE:,.0f})")
            return self.checked(base ** int(exponent))
        return self.checked(base**exponent)

    @staticmethod
    def checked(value: Decimal) -> Decimal:
        if not value.is_finite():
            raise CalculationError("the expression has no finite value")
        if abs(value) > MAX_MAGNITUDE:
            raise CalculationError(f"the result is too large (the limit is {MAX_MAGNITUDE:,.0f})")
        return value


def evaluate(expression: str) -> Decimal:
    """The exact value of `expression`; CalculationError with a readable reason for anything else."""
    if not isinstance(expression, str):
        raise CalculationError(f"the expression must be text; {HOW_TO_WRITE}")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculationError(
            f"the expression is too long ({len(expression):,} characters; at most {MAX_EXPRESSION_CHARS})"
        )
    text = _PERCENT.sub(lambda m: f"{_PERCENT_CALL}({m.group(1)})", _normalize(expression))
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        hint = " (% means percent, as in 59.97 - 10%; there is no modulo)" if "%" in expression else ""
        raise CalculationError(f"the expression could not be read{hint}; {HOW_TO_WRITE}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculationError("the expression has too many parts; split it into smaller calculations")
    try:
        with decimal.localcontext(_CONTEXT):
            return _plain(_Walker(text).value(tree))
    except (decimal.DivisionByZero, decimal.DivisionUndefined):
        raise CalculationError("division by zero is undefined") from None
    except (decimal.InvalidOperation, decimal.Overflow, RecursionError, MemoryError):
        raise CalculationError("the expression has no finite value within the calculator's limits") from None


def format_result(value: Decimal) -> str:
    """Money-style: two decimals, with the exact value alongside when rounding changed it."""
    rounded = value.quantize(Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
    if rounded == value:
        return f"{rounded:f}"
    exact = value.quantize(Decimal(1).scaleb(-SHOWN_DECIMALS), rounding=decimal.ROUND_HALF_UP).normalize()
    about = "exactly" if exact == value else "≈"
    return f"{rounded:f} (rounded to cents; {about} {exact:f})"


def calculator(expression: str) -> str:
    """Calculate an arithmetic expression exactly, e.g. prices, totals, discounts and percentages.

    Args:
        expression: Numbers with + - * / ** and parentheses; "59.97 - 10%" subtracts 10 percent of 59.97, "10% of 80" is 8.
    """
    try:
        value = evaluate(expression)
    except CalculationError as exc:
        raise ToolException(f"Cannot calculate that: {exc}.") from None
    return f"{' '.join(expression.split())} = {format_result(value)}"


def make_calculator_tool() -> BaseTool:
    return StructuredTool.from_function(calculator, parse_docstring=True, handle_tool_error=True)
