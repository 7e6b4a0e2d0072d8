"""A small, safe parser from a learner's math expression to a SymPy expression, and an
equivalence test whose cost is bounded by construction.

Nothing here calls `eval`, `sympify` or `parse_expr` (which evaluate Python code): the
expression is tokenised and parsed by a recursive-descent parser that builds SymPy
objects directly, from a fixed set of operators, functions and constants.

Every input is bounded before any expensive work is done:

* the text: length, token count, nesting depth, the size of number literals, and the
  size of numbers that powers would produce (`9**9**9**9` is refused before SymPy tries
  to compute it);
* the parsed tree, after SymPy's automatic simplification: node count, total degree
  (`((x+1)^100)^100` is degree 10000) and the height of towers of symbolic exponents
  (`e^e^e^x` is 3). These are refused as "too complex to check";
* the comparison: a polynomial is expanded only when a bound on the size of its
  expansion is small; everything else is sampled with mpmath at a fixed precision,
  and a point where any intermediate value would exceed about 10^868 is skipped
  instead of computed (`e^(e^(x^100))` needs no gigabyte-sized exponent).

The answer checker still runs this module in a worker process with a hard time and
memory limit (see courses.checkers): these bounds keep the work small, the worker makes
sure a bound we did not think of cannot stall the web server.

This module does not import Django, so that worker stays a plain Python process:
ExpressionError carries the untranslated message and its parameters, and the caller
translates them (courses.checkers.expression_error_message).

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

MAX_LENGTH = 200
MAX_TOKENS = 120
MAX_DEPTH = 20
MAX_DIGITS = 15
# Largest number, and largest power with numeric base and exponent, in decimal digits of
# its numerator or denominator (`(1000000000000001/1000000000000000)^100^100` is refused
# although it is close to 1: its exact value has 1.5 million digits).
MAX_RESULT_DIGITS = 1000
MAX_NUMERIC_EXPONENT = 100
# Largest integer whose root SymPy may look for (it factors the integer to simplify it:
# `sqrt(999999999999989^66+7)` takes 0.2 s).
MAX_ROOT_DIGITS = 100
# Limits on the parsed tree (after SymPy's automatic simplification).
MAX_NODES = 400
MAX_DEGREE = 100  # total degree, powers of powers multiplied out
MAX_TOWER = 2  # e^(e^x) is allowed, e^(e^(e^x)) is not
# Polynomials are compared exactly only when a bound on the term-by-term products their
# expansion needs is below this (at most about 0.2 s); others are sampled.
MAX_POLY_WORK = 200_000
SAMPLES = 8
SAMPLE_DIGITS = 30
# A sampled value beyond e^MAX_LOG_MAGNITUDE (about 10^868) makes its point undefined.
MAX_LOG_MAGNITUDE = 2000
DEADLINE_SECONDS = 2.0


def gettext_noop(message: str) -> str:
    """Marks `message` for makemessages; the caller translates it (this module has no
    Django, see the module docstring)."""
    return message


TOO_COMPLEX = gettext_noop("This expression is too complex to check.")
TOO_LONG = gettext_noop("Expression too long.")

FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    # Powers in disguise: under the same limits as `^`.
    "sqrt": lambda argument: _safe_pow(argument, sympy.Rational(1, 2)),
    "exp": lambda argument: _safe_pow(sympy.E, argument),
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
    """The input is not an expression we accept.

    `message` is an untranslated message fit to show a learner once translated, with
    `%(name)s` placeholders filled from `params`; str() gives it in English.
    """

    def __init__(self, message: str, params: dict[str, str] | None = None) -> None:
        super().__init__(message, params or {})
        self.message = message
        self.params = params or {}

    def __str__(self) -> str:
        return self.message % self.params


class AnswerKeyError(ValueError):
    """The exercise's expected expression does not parse (a key stored before today's
    limits, or edited outside the authoring forms)."""


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
            raise ExpressionError(
                gettext_noop("Unexpected character “%(char)s”."), {"char": text[pos]}
            )
        number, name, op = match.groups()
        if number is not None:
            if len(number.replace(".", "")) > MAX_DIGITS:
                raise ExpressionError(gettext_noop("Number too long."))
            tokens.append(_Token("num", number))
        elif name is not None:
            tokens.extend(_split_name(name))
        else:
            tokens.append(_Token("op", op))
        pos = match.end()
        if len(tokens) > MAX_TOKENS:
            raise ExpressionError(TOO_LONG)
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
            raise ExpressionError(gettext_noop("Expected “%(text)s”."), {"text": text})
        self.take()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(gettext_noop("Expression nested too deeply."))

    def parse(self) -> sympy.Expr:
        if self.current.kind == "end":
            raise ExpressionError(gettext_noop("Enter an expression."))
        expr = self.sum()
        if self.current.kind != "end":
            raise ExpressionError(
                gettext_noop("Unexpected “%(text)s”."), {"text": self.current.text}
            )
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
                    raise ExpressionError(gettext_noop("Two numbers in a row: add an operator."))
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
                        gettext_noop("Write %(name)s(...) with brackets."), {"name": token.text}
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
            raise ExpressionError(gettext_noop("The expression ends too early."))
        raise ExpressionError(gettext_noop("Unexpected “%(text)s”."), {"text": token.text})


def _safe_pow(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """`base ** exponent`, refusing powers whose evaluation would be huge."""
    if exponent.is_number:
        if not exponent.is_real:
            raise ExpressionError(gettext_noop("Exponent not allowed."))
        magnitude = _float(exponent) if exponent.is_finite else math.inf
        if magnitude > MAX_NUMERIC_EXPONENT:
            raise ExpressionError(gettext_noop("Exponent too large."))
        if base.is_number and base.is_finite:
            digits = _digits(base)
            if magnitude * digits > MAX_RESULT_DIGITS:
                raise ExpressionError(gettext_noop("Number too large."))
            if base.is_Rational and not exponent.is_Integer and digits > MAX_ROOT_DIGITS:
                raise ExpressionError(gettext_noop("Number too large."))
    if base is sympy.E:
        _check_hidden_powers(exponent)
    if _degree(base) * abs(float(exponent) if exponent.is_number else 1) > MAX_DEGREE:
        # Refused before SymPy multiplies nested integer exponents out.
        raise ExpressionError(TOO_COMPLEX)
    return sympy.Pow(base, exponent)


def _check_hidden_powers(exponent: sympy.Expr) -> None:
    """SymPy turns e^(c*ln(a) + ...) with a numeric c into a^c * e^(...) by itself:
    refuse it the way `a^c` would be (e^(ln(2)*10^15) would be 2^(10^15))."""
    for term in sympy.Add.make_args(exponent):
        logarithms = [f for f in sympy.Mul.make_args(term) if isinstance(f, sympy.log)]
        if len(logarithms) == 1:
            coefficient = term / logarithms[0]
            if coefficient.is_number:
                _safe_pow(logarithms[0].args[0], coefficient)


def _float(number: sympy.Expr) -> float:
    """|number| as a float, infinite when it does not fit one."""
    try:
        return abs(complex(number))
    except (OverflowError, TypeError, ValueError):
        return math.inf


def _digits(number: sympy.Expr) -> float:
    """Decimal digits of `number`: of its numerator or denominator for a rational, of
    its size or the inverse of its size otherwise (0.001 has 3)."""
    if number.is_Rational:
        return max(_integer_digits(number.p), _integer_digits(number.q))
    size = _float(number)
    if size == 0:
        return 0
    return abs(math.log10(size)) if math.isfinite(size) else math.inf


def _integer_digits(integer: int) -> float:
    return abs(integer).bit_length() * math.log10(2)


def parse_expression(text: str) -> sympy.Expr:
    """Parse `text` into a SymPy expression within this module's limits, or raise
    ExpressionError."""
    if not isinstance(text, str):
        raise ExpressionError(gettext_noop("Enter an expression."))
    if len(text) > MAX_LENGTH:
        raise ExpressionError(TOO_LONG)
    expr = _Parser(_tokenize(text.translate(_REPLACEMENTS))).parse()
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise ExpressionError(gettext_noop("The expression is undefined (division by zero?)."))
    _check_size(expr)
    return expr


# --- size of a parsed expression ------------------------------------------------------


def _check_size(expr: sympy.Expr) -> None:
    """Refuse trees that are too big, of too high a degree, towers of exponents, or
    holding a number too big (SymPy multiplies numbers out: `9^66*9^66*...`)."""
    for count, node in enumerate(sympy.preorder_traversal(expr), start=1):
        if count > MAX_NODES:
            raise ExpressionError(TOO_COMPLEX)
        if node.is_Rational and _digits(node) > MAX_RESULT_DIGITS:
            raise ExpressionError(gettext_noop("Number too large."))
        if _degree(node) > MAX_DEGREE:
            raise ExpressionError(TOO_COMPLEX)
    if _tower(expr) > MAX_TOWER:
        raise ExpressionError(TOO_COMPLEX)


def _degree(expr: sympy.Expr) -> float:
    """An upper bound on the total degree of `expr` as a polynomial in its symbols and
    in its non-polynomial parts (each `sin(...)`, `e^x`, `1/(x+1)` counts as one more
    variable, the way sympy.Poly treats them)."""
    if not expr.free_symbols:
        return 0
    if expr.is_Symbol:
        return 1
    if expr.is_Add:
        return max(_degree(arg) for arg in expr.args)
    if expr.is_Mul:
        return sum(_degree(arg) for arg in expr.args)
    if expr.is_Pow and expr.exp.is_number:
        return _degree(expr.base) * abs(float(expr.exp))
    return 1


def _tower(expr: sympy.Expr) -> int:
    """Height of the tallest tower of symbolic exponents: x^2 is 0, e^x 1, x^x^x 2."""
    if isinstance(expr, sympy.exp):
        (argument,) = expr.args
        return (1 if argument.free_symbols else 0) + _tower(argument)
    if expr.is_Pow and expr.exp.free_symbols:
        return max(_tower(expr.base), 1 + _tower(expr.exp))
    return max((_tower(arg) for arg in expr.args), default=0)


def _expansion(expr: sympy.Expr, cap: int) -> tuple[int, int] | None:
    """Upper bounds on (terms, work) of expanding `expr` as a polynomial with rational
    coefficients, or None when it is not one. `work` counts term-by-term products;
    `cap` bounds the terms of any polynomial of this degree in these variables."""
    if expr.is_Symbol or expr.is_Rational:
        return 1, 0
    if expr.is_Add or expr.is_Mul:
        parts = [_expansion(arg, cap) for arg in expr.args]
        if None in parts:
            return None
        work = sum(part_work for _terms, part_work in parts)
        if expr.is_Add:
            terms = sum(part_terms for part_terms, _work in parts)
            return min(cap, terms), work + terms
        terms = 1
        for part_terms, _work in parts:
            work += terms * part_terms
            terms = min(cap, terms * part_terms)
        return terms, work
    if expr.is_Pow and expr.exp.is_Integer and expr.exp >= 0:
        base = _expansion(expr.base, cap)
        if base is None:
            return None
        (base_terms, base_work), power = base, int(expr.exp)
        terms = 1 if base_terms == 1 else min(cap, math.comb(base_terms + power - 1, power))
        # At most `power` multiplications by the base, each of at most `terms` terms.
        return terms, base_work + power * terms * base_terms
    return None


def _as_polynomial(expr: sympy.Expr, generators: dict) -> Any:
    """`expr` as an element of the sparse polynomial ring of `generators` (fast, unlike
    sympy.Poly, which expands through the general expression code)."""
    if expr.is_Symbol:
        return generators[expr]
    if expr.is_Rational:
        ring = next(iter(generators.values())).ring
        return ring(QQ(expr.p, expr.q))
    if expr.is_Add:
        return sum(
            (_as_polynomial(arg, generators) for arg in expr.args[1:]),
            _as_polynomial(expr.args[0], generators),
        )
    if expr.is_Mul:
        product = _as_polynomial(expr.args[0], generators)
        for arg in expr.args[1:]:
            product *= _as_polynomial(arg, generators)
        return product
    return _as_polynomial(expr.base, generators) ** int(expr.exp)


# --- equivalence ----------------------------------------------------------------------


def check_expression_text(text: str) -> None:
    """Raise ExpressionError unless `text` parses within the limits (what authoring runs
    in the answer checker's worker: parsing is SymPy work too)."""
    parse_expression(text)


def texts_equivalent(expected_text: str, given_text: str) -> bool:
    """Parse both and compare them (what the answer checker runs in its worker).

    Raises ExpressionError when `given_text` is refused, AnswerKeyError when
    `expected_text` is.
    """
    given = parse_expression(given_text)
    try:
        expected = parse_expression(expected_text)
    except ExpressionError as exc:
        raise AnswerKeyError(str(exc)) from exc
    return expressions_equivalent(expected, given)


def expressions_equivalent(expected: sympy.Expr, given: sympy.Expr) -> bool:
    """True when `given` equals `expected` as a function of its variables.

    Both come from parse_expression. Polynomials whose expansion is small are compared
    exactly. Anything else (fractions, roots, trigonometry, big polynomials) is compared
    by evaluating both sides at several seeded points, mostly positive, some negative;
    points where either side is undefined or out of range are skipped, and at least
    three must agree.
    """
    difference = expected - given
    if difference == 0:  # SymPy's automatic simplification holds for all values
        return True
    symbols = sorted(difference.free_symbols | expected.free_symbols, key=str)
    if symbols and _small_polynomials(expected, given, symbols):
        _ring, *generators = ring(symbols, QQ)
        variables = dict(zip(symbols, generators, strict=True))
        return _as_polynomial(expected, variables) == _as_polynomial(given, variables)
    return _sampled_equal(expected, given, symbols)


def _small_polynomials(expected: sympy.Expr, given: sympy.Expr, symbols: list) -> bool:
    """Both are polynomials with rational coefficients, cheap to expand."""
    degree = math.ceil(max(_degree(expected), _degree(given)))
    cap = math.comb(degree + len(symbols), len(symbols))
    sizes = [_expansion(expected, cap), _expansion(given, cap)]
    return None not in sizes and sum(work for _terms, work in sizes) <= MAX_POLY_WORK


def _sampled_equal(expected: sympy.Expr, given: sympy.Expr, symbols: list) -> bool:
    ctx = mpmath.MPContext()
    ctx.dps = SAMPLE_DIGITS
    deadline = time.monotonic() + DEADLINE_SECONDS
    agreed = 0
    for point in _sample_points(ctx, symbols, seed=str(expected)) if symbols else [{}]:
        if time.monotonic() > deadline:
            break
        try:
            a = _value(ctx, expected, point)
            b = _value(ctx, given, point)
        except _Undefined:
            continue
        if abs(a - b) > ctx.mpf("1e-9") * max(1, abs(a), abs(b)):
            return False
        agreed += 1
    return agreed >= (1 if not symbols else 3)


def _sample_points(ctx: Any, symbols: list[sympy.Symbol], seed: str) -> list[dict]:
    rng = random.Random(seed)  # noqa: S311 - sampling points, not security
    points = []
    for _sample in range(SAMPLES):
        point = {}
        for symbol in symbols:
            magnitude = rng.uniform(0.3, 3.0)
            point[symbol] = ctx.mpf(magnitude if rng.random() < 0.7 else -magnitude)
        points.append(point)
    return points


class _Undefined(Exception):
    """The expression has no usable value at this point (a pole, or out of range)."""


def _value(ctx: Any, expr: sympy.Expr, point: dict) -> Any:
    """`expr` at `point` with mpmath at the context's precision, principal branches as
    in SymPy. Every step is a fixed-precision operation on a bounded number."""
    if expr.is_Symbol:
        return point[expr]
    if expr.is_Rational:
        return ctx.mpf(expr.p) / expr.q
    if expr is sympy.pi:
        return ctx.pi
    if expr is sympy.E:
        return ctx.e
    if expr is sympy.I:
        return ctx.mpc(0, 1)
    if expr.is_Add:
        value = ctx.fsum(_value(ctx, arg, point) for arg in expr.args)
    elif expr.is_Mul:
        value = ctx.fprod(_value(ctx, arg, point) for arg in expr.args)
    elif expr.is_Pow:
        value = _power(ctx, expr, point)
    else:
        function = _FUNCTIONS.get(type(expr))
        if function is None or len(expr.args) != 1:
            # Every point is skipped: such an answer is never counted right.
            raise _Undefined(f"no numeric rule for {type(expr).__name__}")
        argument = _value(ctx, expr.args[0], point)
        try:
            value = function(ctx, argument)
        except (ArithmeticError, ValueError) as exc:  # a pole: cot(0), ...
            raise _Undefined(str(exc)) from exc
    return _bounded(ctx, value)


def _power(ctx: Any, expr: sympy.Pow, point: dict) -> Any:
    base = _value(ctx, expr.base, point)
    exponent = int(expr.exp) if expr.exp.is_Integer else _value(ctx, expr.exp, point)
    if base == 0:
        if ctx.re(exponent) > 0:
            return ctx.zero
        raise _Undefined("0 to a non-positive power")
    _check_log_magnitude(ctx, exponent * ctx.log(base))
    return ctx.power(base, exponent)


def _bounded(ctx: Any, value: Any) -> Any:
    if ctx.isnan(value) or ctx.isinf(value) or ctx.mag(value) > _MAX_BITS:
        raise _Undefined("out of range")
    return value


def _check_log_magnitude(ctx: Any, logarithm: Any) -> None:
    if ctx.re(logarithm) > MAX_LOG_MAGNITUDE:
        raise _Undefined("out of range")


def _exp(ctx: Any, value: Any) -> Any:
    _check_log_magnitude(ctx, value)
    return ctx.exp(value)


def _log(ctx: Any, value: Any) -> Any:
    if value == 0:
        raise _Undefined("log(0)")
    return ctx.log(value)


def _trigonometric(name: str) -> Callable[[Any, Any], Any]:
    def function(ctx: Any, value: Any) -> Any:
        # |sin(a + bi)| grows like e^|b|; and an argument with more integer digits than
        # the working precision allows has an error of several periods: noise, not a value.
        _check_log_magnitude(ctx, abs(ctx.im(value)))
        if abs(ctx.re(value)) > _MAX_TRIG_ARGUMENT:
            raise _Undefined("argument too large for the precision")
        return getattr(ctx, name)(value)

    return function


def _hyperbolic(name: str) -> Callable[[Any, Any], Any]:
    def function(ctx: Any, value: Any) -> Any:
        _check_log_magnitude(ctx, abs(ctx.re(value)))
        return getattr(ctx, name)(value)

    return function


def _sign(ctx: Any, value: Any) -> Any:
    return value / abs(value) if value != 0 else ctx.zero


_MAX_BITS = int(MAX_LOG_MAGNITUDE / math.log(2))
_MAX_TRIG_ARGUMENT = 10 ** (SAMPLE_DIGITS - 12)
# What the parser's functions become after SymPy's automatic simplification (sin(I*x) is
# I*sinh(x), |e^x| is e^re(x), ...).
_FUNCTIONS: dict[type, Callable[[Any, Any], Any]] = {
    sympy.exp: _exp,
    sympy.log: _log,
    sympy.sin: _trigonometric("sin"),
    sympy.cos: _trigonometric("cos"),
    sympy.tan: _trigonometric("tan"),
    sympy.cot: _trigonometric("cot"),  # tan(x + pi/2) is -cot(x)
    sympy.sec: _trigonometric("sec"),
    sympy.csc: _trigonometric("csc"),
    sympy.sinh: _hyperbolic("sinh"),
    sympy.cosh: _hyperbolic("cosh"),
    sympy.tanh: _hyperbolic("tanh"),
    sympy.coth: _hyperbolic("coth"),
    sympy.sech: _hyperbolic("sech"),
    sympy.csch: _hyperbolic("csch"),
    sympy.Abs: lambda ctx, value: abs(value),
    sympy.re: lambda ctx, value: ctx.re(value),
    sympy.im: lambda ctx, value: ctx.im(value),
    sympy.arg: lambda ctx, value: ctx.arg(value),
    sympy.conjugate: lambda ctx, value: ctx.conj(value),
    sympy.sign: _sign,
}
