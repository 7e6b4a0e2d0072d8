"""A small, safe parser from a learner's math expression to a SymPy expression, and an
equivalence test.

Nothing here calls `eval`, `sympify` or `parse_expr` (which evaluate Python code): the
expression is tokenised and parsed by a recursive-descent parser that builds SymPy
objects directly, from a fixed set of operators, functions and constants. Input is
bounded before any work is done: length, token count, nesting depth, the size of number
literals, and the size of numbers that powers would produce (`9**9**9**9` is refused
before SymPy tries to compute it).

Grammar (`^` and `**` both mean power; juxtaposition means multiplication)::

    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary | unary)*      # implicit: 2x, 2(x+1), x(x+1)
    unary   := ("+" | "-") unary | power
    power   := atom (("^" | "**") unary)?              # right-associative
    atom    := number | name | function "(" sum ")" | "(" sum ")"
"""

import math
import random
import re
import time
from dataclasses import dataclass

import sympy
from django.utils.translation import gettext as _

MAX_LENGTH = 200
MAX_TOKENS = 120
MAX_DEPTH = 20
MAX_DIGITS = 15
# Largest power with numeric base and exponent, measured in decimal digits of the result.
MAX_RESULT_DIGITS = 1000
MAX_NUMERIC_EXPONENT = 100
MAX_POLY_DEGREE = 30
SAMPLES = 8
DEADLINE_SECONDS = 2.0

FUNCTIONS = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "sqrt": sympy.sqrt,
    "exp": sympy.exp,
    "ln": sympy.log,
    "log": sympy.log,
    "abs": sympy.Abs,
}
CONSTANTS = {"pi": sympy.pi, "e": sympy.E}

# Typographic characters learners paste, mapped to ASCII.
_REPLACEMENTS = str.maketrans(
    {"\u00d7": "*", "\u00b7": "*", "\u00f7": "/", "\u2212": "-", "\u2013": "-", "\u03c0": "pi"}
)
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*|\.\d+)|([A-Za-z]+)|(\*\*|[-+*/^()]))")


class ExpressionError(ValueError):
    """The input is not an expression we accept; the message is fit to show a learner."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "op", "end"
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(_("Unexpected character “%(char)s”.") % {"char": text[pos]})
        number, name, op = match.groups()
        if number is not None:
            if len(number.replace(".", "")) > MAX_DIGITS:
                raise ExpressionError(_("Number too long."))
            tokens.append(_Token("num", number))
        elif name is not None:
            tokens.extend(_split_name(name))
        else:
            tokens.append(_Token("op", op))
        pos = match.end()
        if len(tokens) > MAX_TOKENS:
            raise ExpressionError(_("Expression too long."))
    tokens.append(_Token("end", ""))
    return tokens


def _split_name(name: str) -> list[_Token]:
    """Known function and constant names stay whole; other letters are single-letter
    variables multiplied together (`xy` is x*y)."""
    lowered = name.lower()
    if lowered in FUNCTIONS or lowered in CONSTANTS:
        return [_Token("name", lowered)]
    return [_Token("name", letter) for letter in name]


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        if self.current.text != text:
            raise ExpressionError(_("Expected “%(text)s”.") % {"text": text})
        self.take()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(_("Expression nested too deeply."))

    def parse(self) -> sympy.Expr:
        if self.current.kind == "end":
            raise ExpressionError(_("Enter an expression."))
        expr = self.sum()
        if self.current.kind != "end":
            raise ExpressionError(_("Unexpected “%(text)s”.") % {"text": self.current.text})
        return expr

    def sum(self) -> sympy.Expr:
        self.enter()
        expr = self.product()
        while self.current.text in ("+", "-"):
            op = self.take().text
            right = self.product()
            expr = expr + right if op == "+" else expr - right
        self.depth -= 1
        return expr

    def starts_atom(self) -> bool:
        token = self.current
        return token.kind in ("num", "name") or token.text == "("

    def product(self) -> sympy.Expr:
        expr = self.unary()
        while True:
            if self.current.text in ("*", "/"):
                op = self.take().text
                right = self.unary()
                expr = expr * right if op == "*" else expr / right
            elif self.starts_atom():
                if self.current.kind == "num" and self.tokens[self.pos - 1].kind == "num":
                    raise ExpressionError(_("Two numbers in a row: add an operator."))
                expr = expr * self.unary()
            else:
                return expr

    def unary(self) -> sympy.Expr:
        if self.current.text in ("+", "-"):
            self.enter()
            op = self.take().text
            operand = self.unary()
            self.depth -= 1
            return operand if op == "+" else -operand
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.atom()
        if self.current.text in ("^", "**"):
            self.take()
            self.enter()
            exponent = self.unary()
            self.depth -= 1
            return _safe_pow(base, exponent)
        return base

    def atom(self) -> sympy.Expr:
        token = self.take()
        if token.kind == "num":
            return sympy.Rational(token.text)
        if token.kind == "name":
            if token.text in FUNCTIONS:
                if self.current.text != "(":
                    raise ExpressionError(
                        _("Write %(name)s(...) with brackets.") % {"name": token.text}
                    )
                self.take()
                argument = self.sum()
                self.expect(")")
                return FUNCTIONS[token.text](argument)
            if token.text in CONSTANTS:
                return CONSTANTS[token.text]
            return sympy.Symbol(token.text)
        if token.text == "(":
            expr = self.sum()
            self.expect(")")
            return expr
        if token.kind == "end":
            raise ExpressionError(_("The expression ends too early."))
        raise ExpressionError(_("Unexpected “%(text)s”.") % {"text": token.text})


def _safe_pow(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """`base ** exponent`, refusing powers whose evaluation would be huge."""
    if exponent.is_number:
        if not exponent.is_real:
            raise ExpressionError(_("Exponent not allowed."))
        magnitude = abs(float(exponent)) if exponent.is_finite else math.inf
        if magnitude > MAX_NUMERIC_EXPONENT:
            raise ExpressionError(_("Exponent too large."))
        if base.is_number and base.is_finite:
            size = abs(float(base)) if base.is_real else abs(complex(base))
            if size > 1 and magnitude * math.log10(size) > MAX_RESULT_DIGITS:
                raise ExpressionError(_("Number too large."))
    return sympy.Pow(base, exponent)


def parse_expression(text: str) -> sympy.Expr:
    """Parse `text` into a SymPy expression, or raise ExpressionError."""
    if not isinstance(text, str):
        raise ExpressionError(_("Enter an expression."))
    if len(text) > MAX_LENGTH:
        raise ExpressionError(_("Expression too long."))
    expr = _Parser(_tokenize(text.translate(_REPLACEMENTS))).parse()
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise ExpressionError(_("The expression is undefined (division by zero?)."))
    return expr


def _sample_points(symbols: list[sympy.Symbol], seed: str) -> list[dict]:
    rng = random.Random(seed)  # noqa: S311 - sampling points, not security
    points = []
    for _sample in range(SAMPLES):
        point = {}
        for symbol in symbols:
            magnitude = rng.uniform(0.3, 3.0)
            point[symbol] = sympy.Float(magnitude if rng.random() < 0.7 else -magnitude, 30)
        points.append(point)
    return points


def _close(a: complex, b: complex) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def expressions_equivalent(expected: sympy.Expr, given: sympy.Expr) -> bool:
    """True when `given` equals `expected` as a function of its variables.

    Polynomials of modest degree are compared exactly. Anything else (fractions, roots,
    trigonometry) is compared by evaluating both sides with SymPy at several seeded
    points, mostly positive, some negative; points where either side is undefined are
    skipped, and at least three must agree. The work is bounded by the parser's limits
    and a deadline.
    """
    difference = expected - given
    symbols = sorted(difference.free_symbols | expected.free_symbols, key=str)
    try:
        poly = sympy.Poly(difference, *symbols) if symbols else None
    except sympy.PolynomialError:
        poly = None
    if (
        poly is not None
        and poly.total_degree() <= MAX_POLY_DEGREE
        and _is_polynomial(expected, given, symbols)
    ):
        return poly.is_zero
    deadline = time.monotonic() + DEADLINE_SECONDS
    agreed = 0
    for point in _sample_points(symbols, seed=str(expected)) if symbols else [{}]:
        if time.monotonic() > deadline:
            break
        try:
            a = complex(expected.evalf(30, subs=point))
            b = complex(given.evalf(30, subs=point))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            continue
        if not all(map(math.isfinite, (a.real, a.imag, b.real, b.imag))):
            continue
        if not _close(a, b):
            return False
        agreed += 1
    return agreed >= (1 if not symbols else 3)


def _is_polynomial(expected: sympy.Expr, given: sympy.Expr, symbols: list) -> bool:
    return bool(symbols) and expected.is_polynomial(*symbols) and given.is_polynomial(*symbols)
