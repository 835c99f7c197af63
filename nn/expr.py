"""Turn a formula such as ``tanh(w1*x1 + b)`` into a graph of autograd Values, for ``chainrule graph``.

The text is parsed with :mod:`ast` and walked through an explicit whitelist (numbers, names,
``+ - * / **``, unary ``-``/``+``, parentheses and calls to the engine's functions); it is never
evaluated by Python, so no formula can run code.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from autograd import OPS, Value

from ._checks import is_real

__all__ = ["FUNCTIONS", "Expression", "ExpressionError", "parse"]

# The engine's functions a formula may call, with (fewest, most) arguments: each is the Value method of
# the same name (abs is abs()). leaky_relu's optional second argument is its negative slope, a number
# (it becomes the node's arg, not a parent).
FUNCTIONS: dict[str, tuple[int, int]] = {
    "exp": (1, 1),
    "log": (1, 1),
    "sqrt": (1, 1),
    "tanh": (1, 1),
    "sigmoid": (1, 1),
    "relu": (1, 1),
    "leaky_relu": (1, 2),
    "softplus": (1, 1),
    "sin": (1, 1),
    "cos": (1, 1),
    "abs": (1, 1),
}

# Each allowed operator: its op in the table (its forward gives the engine's errors on two numbers) and
# the Python operator that builds its node when an operand is a Value.
_BINARY: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("add", operator.add),
    ast.Sub: ("sub", operator.sub),
    ast.Mult: ("mul", operator.mul),
    ast.Div: ("div", operator.truediv),
    ast.Pow: ("pow", operator.pow),  # Value ** number is the pow op; with a Value exponent, vpow
}

# How a refused operator is written, to find it in the text and show it in the message.
_OPERATOR_TEXT: dict[type[ast.AST], str] = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Not: "not",
    ast.Invert: "~",
}

# What a refused node is called in an error message; anything not listed is named by its ast class.
_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Slice: "slices",
    ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Starred: "starred expressions",
    ast.BoolOp: "boolean operators (and, or)",
    ast.Compare: "comparisons",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignments (:=)",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.JoinedStr: "f-strings",
    ast.Await: "await",
}

_ALLOWED = "numbers, names, + - * / **, parentheses and the functions " + ", ".join(FUNCTIONS)
_WINDOW = 60  # characters of context shown either side of the offending part of a long formula


class ExpressionError(ValueError):
    """A formula that cannot be turned into Values; ``str()`` shows the formula with a caret under the cause.

    ``message`` is the one-line reason; ``start``/``end`` are the character columns of the offending
    part (``None`` when no single part is to blame).
    """

    def __init__(self, message: str, text: str, start: int | None = None, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.start = start
        self.end = end

    def __str__(self) -> str:
        if self.start is None:
            return self.message
        return f"{self.message}\n{self.pointer()}"

    def pointer(self) -> str:
        """Two lines: the formula (a window of it when long) and carets under the offending part."""
        assert self.start is not None
        end = self.end if self.end is not None and self.end > self.start else self.start + 1
        lo = max(0, self.start - _WINDOW)
        hi = min(len(self.text), end + _WINDOW)
        shown = ("..." if lo else "") + self.text[lo:hi] + ("..." if hi < len(self.text) else "")
        before = ("..." if lo else "") + self.text[lo : self.start]
        # keep tabs as tabs, so the carets line up under a formula that contains them
        pad = "".join(c if c == "\t" else " " for c in before)
        return f"    {shown}\n    {pad}{'^' * (end - self.start)}"


@dataclass(frozen=True)
class Expression:
    """A checked formula: its text, its ast body and its names in order of first appearance."""

    text: str
    body: ast.expr
    names: tuple[str, ...]

    def evaluate(self, bindings: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
        """Build the formula from Values: returns the root and the leaf made for each name (labelled with it).

        Every occurrence of a name is the same leaf, so ``x*x`` has parents ``(x, x)``. A number
        operand becomes a Constant; a part made of numbers only is computed as a float.

        >>> root, leaves = parse("x * y + 1").evaluate({"x": 2.0, "y": 3.0})
        >>> root.backward()
        >>> root.data, leaves["x"].grad, leaves["y"].grad
        (7.0, 3.0, 2.0)
        """
        missing = [name for name in self.names if name not in bindings]
        if missing:
            first = _first_name(self.body, missing[0])
            raise ExpressionError(
                f"no value for {', '.join(missing)}", self.text, *_span(self.text, first)
            )
        leaves = {name: Value(float(bindings[name]), label=name) for name in self.names}
        root = _evaluate(self.text, self.body, leaves)
        assert isinstance(root, Value), "parse() refuses formulas without a name"
        return root, leaves


def parse(text: str) -> Expression:
    """Check a formula against the whitelist and return it as an :class:`Expression`.

    Raises :class:`ExpressionError` pointing at the first offending part.

    >>> parse("tanh(w1*x1 + w2*x2 + b)").names
    ('w1', 'x1', 'w2', 'x2', 'b')
    >>> parse("x.real")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    nn.expr.ExpressionError: attribute access is not allowed ...
        x.real
        ^^^^^^
    """
    if not isinstance(text, str):
        raise TypeError(f"the formula must be a str, got {type(text).__name__}")
    for i, c in enumerate(text):
        if c in "\r\n":
            raise ExpressionError("write the formula on one line", text, i, i + 1)
    if not text.strip():
        raise ExpressionError("the formula is empty; write one, e.g. 'tanh(w*x + b)'", text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise _syntax_error(text, err) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            "the formula is nested too deeply for Python's parser; split it into smaller parts", text
        ) from None
    except ValueError as err:  # e.g. an integer literal beyond Python's digit limit
        raise ExpressionError(f"cannot parse the formula: {err}", text) from None
    body = tree.body
    names = _check(text, body)
    if not names:
        raise ExpressionError(
            "the formula has no names, so there is nothing to differentiate; use one, e.g. '2*x'", text
        )
    return Expression(text, body, names)


# --------------------------------------------------------------------------------------------------
# Checking


def _check(text: str, body: ast.expr) -> tuple[str, ...]:
    """Refuse anything outside the whitelist; return the names in order of first appearance."""
    names: dict[str, None] = {}
    # NOTE: an explicit stack, not recursion: a long formula such as x+x+...+x is a deep left chain.
    stack: list[ast.AST] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant):
            _check_number(text, node)
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise _error(f"{node.id} is a function; call it: {node.id}(...)", text, node)
            names.setdefault(node.id, None)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise _operator_error(text, node)
            stack += [node.right, node.left]  # popped left first, so names keep their order
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                symbol = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
                start, _ = _span(text, node)
                op_end, _ = _span(text, node.operand)
                raise ExpressionError(
                    _not_allowed(f"the operator '{symbol}'"),
                    text,
                    start,
                    start + len(text[start:op_end].rstrip()),
                )
            stack.append(node.operand)
        elif isinstance(node, ast.Call):
            _check_call(text, node)
            stack += reversed(node.args)
        else:
            what = _REFUSED.get(type(node), f"'{type(node).__name__}' expressions")
            raise _error(_not_allowed(what), text, node)
    return tuple(names)


def _check_number(text: str, node: ast.Constant) -> None:
    value = node.value
    if not is_real(value):
        kind = {str: "strings", bytes: "bytes", complex: "complex numbers", bool: "booleans"}.get(
            type(value), f"the constant {value!r}"
        )
        raise _error(_not_allowed(kind), text, node)
    try:
        as_float = float(value)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float):
        raise _error("this number is too large for a float", text, node)


def _check_call(text: str, node: ast.Call) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        if type(func) in _REFUSED:
            _check(text, func)  # raises the error that names what the callee is (e.g. attribute access)
        raise _error(f"only the functions {', '.join(FUNCTIONS)} can be called", text, func)
    if func.id not in FUNCTIONS:
        raise _error(f"unknown function '{func.id}'; the functions are {', '.join(FUNCTIONS)}", text, func)
    if node.keywords:
        raise _error(f"{func.id}() takes no keyword arguments; pass them by position", text, node.keywords[0])
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise _error("starred arguments are not allowed; pass each argument", text, arg)
    fewest, most = FUNCTIONS[func.id]
    if not fewest <= len(node.args) <= most:
        wanted = str(fewest) if fewest == most else f"{fewest} or {most}"
        plural = "" if most == 1 else "s"
        raise _error(f"{func.id}() takes {wanted} argument{plural}, got {len(node.args)}", text, node)
    if func.id == "leaky_relu" and len(node.args) == 2:
        slope = node.args[1]
        if any(isinstance(n, ast.Name) for n in ast.walk(slope)):
            raise _error("the slope of leaky_relu must be a number, not depend on a name", text, slope)


# --------------------------------------------------------------------------------------------------
# Evaluation


def _evaluate(text: str, body: ast.expr, leaves: Mapping[str, Value]) -> Value | float:
    """Compute a checked body bottom-up with an explicit stack (no recursion, however deep)."""
    order: list[ast.expr] = []  # reverse post-order: each node before its operands
    stack: list[ast.expr] = [body]
    while stack:
        node = stack.pop()
        order.append(node)
        if isinstance(node, ast.BinOp):
            stack += [node.left, node.right]
        elif isinstance(node, ast.UnaryOp):
            stack.append(node.operand)
        elif isinstance(node, ast.Call):
            stack += node.args
    results: list[Value | float] = []  # operand results, the last one on top
    for node in reversed(order):
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, (int, float)), "_check_number refuses other constants"
            results.append(float(node.value))
        elif isinstance(node, ast.Name):
            results.append(leaves[node.id])
        else:
            try:
                results.append(_apply(node, results))
            except (ValueError, ArithmeticError) as err:
                # a domain error or overflow of the engine, e.g. log(-1): point at the call that failed
                raise _error(str(err), text, node) from None
    (root,) = results
    return root


def _apply(node: ast.expr, results: list[Value | float]) -> Value | float:
    """Pop this node's operands off ``results`` and return its value (a Value, or a float if all are)."""
    if isinstance(node, ast.UnaryOp):
        x = results.pop()
        return -x if isinstance(node.op, ast.USub) else x
    if isinstance(node, ast.BinOp):
        y, x = results.pop(), results.pop()
        name, build = _BINARY[type(node.op)]
        if isinstance(x, Value) or isinstance(y, Value):
            return build(x, y)
        # both numbers: the op table's forward gives the engine's error messages (1/0, (-8)**0.5)
        return float(OPS[name].forward(x, y))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    args = [results.pop() for _ in node.args][::-1]
    name = node.func.id
    x = args[0]
    if len(args) == 2:
        slope = args[1]
        assert not isinstance(slope, Value), "_check_call refuses a slope that depends on a name"
        return x.leaky_relu(slope) if isinstance(x, Value) else float(OPS[name].forward(x, slope))
    if not isinstance(x, Value):
        extra = (0.01,) if name == "leaky_relu" else ()  # Value.leaky_relu's default slope
        return float(OPS[name].forward(x, *extra))
    return abs(x) if name == "abs" else getattr(Value, name)(x)  # FUNCTIONS names Value's methods


# --------------------------------------------------------------------------------------------------
# Positions


def _span(text: str, node: ast.AST) -> tuple[int, int]:
    """A node's (start, end) character columns; ast counts UTF-8 bytes, so convert (e.g. for 'α*x')."""
    raw = text.encode("utf-8")
    start = getattr(node, "col_offset", 0)
    end = getattr(node, "end_col_offset", None) or start
    return _chars(raw, start), _chars(raw, end)


def _chars(raw: bytes, byte_offset: int) -> int:
    return len(raw[:byte_offset].decode("utf-8", errors="replace"))


def _not_allowed(what: str) -> str:
    singular = what.startswith("the ") or what in ("attribute access", "await")
    return f"{what} {'is' if singular else 'are'} not allowed (a formula may use {_ALLOWED})"


def _error(message: str, text: str, node: ast.AST) -> ExpressionError:
    return ExpressionError(message, text, *_span(text, node))


def _operator_error(text: str, node: ast.BinOp) -> ExpressionError:
    """Point at the operator itself, found in the text between the two operands."""
    symbol = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
    _, left_end = _span(text, node.left)
    right_start, _ = _span(text, node.right)
    at = text.find(symbol, left_end, right_start)
    start, end = (at, at + len(symbol)) if at >= 0 else _span(text, node)
    return ExpressionError(_not_allowed(f"the operator '{symbol}'"), text, start, end)


def _syntax_error(text: str, err: SyntaxError) -> ExpressionError:
    reason = err.msg or "invalid syntax"
    if err.offset is None:
        return ExpressionError(f"cannot parse the formula: {reason}", text)
    # SyntaxError columns are 1-based characters; end_offset is 0 or earlier when unknown
    start = min(max(err.offset - 1, 0), len(text))
    end = (err.end_offset or 0) - 1
    return ExpressionError(f"cannot parse the formula: {reason}", text, start, max(end, start + 1))


def _first_name(body: ast.expr, name: str) -> ast.AST:
    """The first occurrence of ``name``, left to right."""
    hits = [n for n in ast.walk(body) if isinstance(n, ast.Name) and n.id == name]
    return min(hits, key=lambda n: n.col_offset)
