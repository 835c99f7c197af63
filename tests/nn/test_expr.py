"""Tests for nn.expr: the whitelist, carets under the offending part, and hand-derived values and grads."""

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd import OPS, Constant, Value
from nn.expr import FUNCTIONS, ExpressionError, parse


def build(text, **bindings):
    root, leaves = parse(text).evaluate(bindings)
    root.backward()
    return root, leaves


def caret_columns(err):
    """(start, end) of the carets in str(err), relative to the formula line above them."""
    _, formula_line, caret_line = str(err).split("\n")
    assert formula_line == "    " + err.text
    stripped = caret_line[4:]
    start = len(stripped) - len(stripped.lstrip(" "))
    return start, len(stripped)


# -- values and grads derived by hand ----------------------------------------------------------------


def test_neuron_by_hand():
    # n = x1 w1 + x2 w2 + b = -6 + 0 + 6.88137... = 0.88137..., so o = tanh(n) = sqrt(2)/2 and
    # do/dn = 1 - o^2 = 1/2; each grad is 1/2 times the other factor of its product.
    b = 6.8813735870195432
    root, leaves = build("tanh(w1*x1 + w2*x2 + b)", x1=2.0, x2=0.0, w1=-3.0, w2=1.0, b=b)
    assert root.op == "tanh"
    assert root.data == pytest.approx(math.sqrt(2) / 2, abs=1e-12)
    expected = {"x1": -3.0 / 2, "w1": 2.0 / 2, "x2": 1.0 / 2, "w2": 0.0, "b": 1 / 2}
    for name, grad in expected.items():
        assert leaves[name].label == name
        assert leaves[name].grad == pytest.approx(grad, abs=1e-12), name


def test_products_sums_and_trig_by_hand():
    # f = x y + sin x - y / x at x=2, y=3: df/dx = y + cos x + y / x^2, df/dy = x - 1 / x
    root, leaves = build("x*y + sin(x) - y/x", x=2.0, y=3.0)
    assert root.data == pytest.approx(6 + math.sin(2) - 1.5, abs=1e-12)
    assert leaves["x"].grad == pytest.approx(3 + math.cos(2) + 3 / 4, abs=1e-12)
    assert leaves["y"].grad == pytest.approx(2 - 1 / 2, abs=1e-12)


def test_powers_by_hand():
    # x**3 is the pow op with the 3 as its arg; 2**x = e^(x log 2); x**y = e^(y log x)
    root, leaves = build("x**3 + 2**x + x**y", x=1.5, y=2.5)
    assert root.data == pytest.approx(1.5**3 + 2**1.5 + 1.5**2.5, abs=1e-12)
    dx = 3 * 1.5**2 + math.log(2) * 2**1.5 + 2.5 * 1.5**1.5
    assert leaves["x"].grad == pytest.approx(dx, abs=1e-12)
    assert leaves["y"].grad == pytest.approx(1.5**2.5 * math.log(1.5), abs=1e-12)
    pow_nodes = [v for v in _nodes(root) if v.op == "pow"]
    assert [v.arg for v in pow_nodes] == [3.0]


def test_number_only_parts_are_folded_into_one_constant():
    # x ** (1/2) is the pow op with arg 0.5, not exp(Constant * log x)
    root, leaves = build("x ** (1/2) * (2*3)", x=4.0)
    assert root.data == pytest.approx(12.0)
    assert leaves["x"].grad == pytest.approx(6 * 0.5 / 2)
    assert root.op == "mul"
    assert isinstance(root.parents[1], Constant) and root.parents[1].data == 6.0
    assert root.parents[0].op == "pow" and root.parents[0].arg == 0.5


def test_reused_name_is_one_leaf_with_duplicate_parents():
    root, leaves = build("x*x", x=3.0)
    assert root.parents == (leaves["x"], leaves["x"])
    assert leaves["x"].grad == 6.0


def test_unary_signs_abs_and_leaky_relu_by_hand():
    # at x = -1: leaky_relu(x, 0.2) = -0.2 (slope 0.2); leaky_relu(-2) = -0.02 (default slope 0.01);
    # abs(-x) = 1 with d/dx = -sign(-x) = -1; +x = -1 with d/dx = 1; -(-x) = x.
    root, leaves = build("leaky_relu(x, 0.2) + leaky_relu(-2) + abs(-x) + +x - -x", x=-1.0)
    assert root.data == pytest.approx(-0.2 - 0.02 + 1 - 1 - 1)
    assert leaves["x"].grad == pytest.approx(0.2 - 1 + 1 + 1)
    slopes = [v.arg for v in _nodes(root) if v.op == "leaky_relu"]
    assert slopes == [0.2]


@pytest.mark.parametrize(
    "name, x, value, grad",
    [
        ("exp", 0.5, math.exp(0.5), math.exp(0.5)),
        ("log", 2.0, math.log(2.0), 0.5),
        ("sqrt", 4.0, 2.0, 0.25),
        ("tanh", 0.5, math.tanh(0.5), 1 - math.tanh(0.5) ** 2),
        ("sigmoid", 0.0, 0.5, 0.25),
        ("relu", -1.0, 0.0, 0.0),
        ("relu", 2.0, 2.0, 1.0),
        ("leaky_relu", -2.0, -0.02, 0.01),
        ("softplus", 0.0, math.log(2.0), 0.5),
        ("sin", 1.0, math.sin(1.0), math.cos(1.0)),
        ("cos", 1.0, math.cos(1.0), -math.sin(1.0)),
        ("abs", -3.0, 3.0, -1.0),
    ],
)
def test_each_function_by_hand(name, x, value, grad):
    root, leaves = build(f"{name}(x)", x=x)
    assert root.data == pytest.approx(value, abs=1e-12)
    assert leaves["x"].grad == pytest.approx(grad, abs=1e-12)


def test_functions_are_the_engines_unary_ops():
    assert set(FUNCTIONS) <= set(OPS)
    assert set(OPS) - set(FUNCTIONS) == {"add", "sub", "mul", "div", "neg", "pow", "rpow", "vpow", "linear"}


def test_names_in_order_of_first_appearance():
    assert parse("tanh(w1*x1 + w2*x2 + b)").names == ("w1", "x1", "w2", "x2", "b")
    assert parse("b + exp(a, ) * b ** c").names == ("b", "a", "c")
    assert parse("α*β").names == ("α", "β")


# -- refused constructs, with the caret under the offending part --------------------------------------

REFUSED = [
    # (formula, words in the message, offending part)
    ("x.real", "attribute access", "x.real"),
    ("tanh(x) + x.__class__", "attribute access", "x.__class__"),
    ("math.exp(x)", "attribute access", "math.exp"),
    ("x[0] + y", "subscripts", "x[0]"),
    ("y + (lambda: x)", "lambdas", "lambda: x"),
    ("sum([x for x in y])", "unknown function 'sum'", "sum"),
    ("exp([x for x in y])", "comprehensions", "[x for x in y]"),
    ("exp(x for x in y)", "comprehensions", "(x for x in y)"),  # ast spans the call's parentheses
    ("{k: x for k in y}", "comprehensions", "{k: x for k in y}"),
    ("__import__('os').system('true')", "attribute access", "__import__('os').system"),
    ("__import__('os')", "unknown function '__import__'", "__import__"),
    ("eval('1') * x", "unknown function 'eval'", "eval"),
    ("x + foo(y)", "unknown function 'foo'", "foo"),
    ("exp(x, y)", "exp() takes 1 argument, got 2", "exp(x, y)"),
    ("x * log()", "log() takes 1 argument, got 0", "log()"),
    ("leaky_relu(x, 0.1, 2)", "takes 1 or 2 arguments, got 3", "leaky_relu(x, 0.1, 2)"),
    ("leaky_relu(x, y)", "slope of leaky_relu must be a number", "y"),
    ("tanh(x=1) * y", "keyword arguments", "x=1"),
    ("exp(*x)", "starred", "*x"),
    ("'x' + y", "strings", "'x'"),
    ("x + b'x'", "bytes", "b'x'"),
    ("2j * x", "complex numbers", "2j"),
    ("True * x", "booleans", "True"),
    ("x and y", "boolean operators", "x and y"),
    ("x + (y or z)", "boolean operators", "y or z"),
    ("x < y", "comparisons", "x < y"),
    ("x if y else z", "conditional expressions", "x if y else z"),
    ("(y := x) * 2", "assignments", "y := x"),
    ("[x, y]", "lists", "[x, y]"),
    ("x, y", "tuples", "x, y"),
    ("{x}", "sets", "{x}"),
    ("{x: y}", "dicts", "{x: y}"),
    ("f'{x}' + y", "f-strings", "f'{x}'"),
    ("x // y", "operator '//'", "//"),
    ("(x) % (y)", "operator '%'", "%"),
    ("x @ y", "operator '@'", "@"),
    ("x ^ y", "operator '^'", "^"),
    ("x << 2", "operator '<<'", "<<"),
    ("~x + y", "operator '~'", "~"),
    ("not x", "operator 'not'", "not"),
    ("exp + x", "exp is a function", "exp"),
    ("1e999 * x", "too large for a float", "1e999"),
    ("(2)(x)", "only the functions", "2"),
    # non-ASCII names: ast counts bytes, the caret counts characters
    ("α*β + x.y", "attribute access", "x.y"),
]


@pytest.mark.parametrize("text, words, part", REFUSED)
def test_refused_constructs_point_at_the_offending_part(text, words, part):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    err = info.value
    assert words in err.message
    assert "\n" not in err.message  # the reason is one line; the pointer follows it
    assert err.text == text
    # the caret span is exactly the offending part
    assert text[err.start : err.end] == part
    assert caret_columns(err) == (err.start, err.end)


def test_caret_lines_up_under_a_tab():
    with pytest.raises(ExpressionError) as info:
        parse("x +\ty.z")
    _, formula_line, caret_line = str(info.value).split("\n")
    assert formula_line == "    x +\ty.z"
    assert caret_line == "       \t^^^"


@pytest.mark.parametrize(
    "text, words, column",
    [
        ("tanh(x", "never closed", 4),
        ("x y", "invalid syntax", 2),
        ("import os", "invalid syntax", 0),
        ("x = 3", "invalid syntax", 2),
        ("x +* 2", "invalid syntax", 3),
    ],
)
def test_syntax_errors_point_at_a_column(text, words, column):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert "cannot parse the formula" in info.value.message and words in info.value.message
    assert info.value.start == column
    assert caret_columns(info.value)[0] == column


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x +\ny", "one line"),
        ("2 * 3", "no names"),
        ("x\0", "null"),
        ("x+" * 5000 + "x", "nested too deeply"),
        ("(" * 300 + "x" + ")" * 300, "nested"),
        ("1" * 5000 + " * x", "cannot parse"),
    ],
)
def test_unparsable_formulas(text, words):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert words in info.value.message


def test_long_formula_error_shows_a_window_around_the_cause():
    text = "x + " * 100 + "y.z" + " + x" * 100
    with pytest.raises(ExpressionError) as info:
        parse(text)
    _, shown, carets = str(info.value).split("\n")
    assert len(shown) < 200 and shown.startswith("    ...") and shown.endswith("...")
    start = len(carets) - 3
    assert shown[start : start + 3] == "y.z" and carets.endswith("^^^")


def test_deep_but_parsable_chain_evaluates_without_recursion():
    root, leaves = build("x+" * 1000 + "x", x=1.0)
    assert root.data == 1001.0 and leaves["x"].grad == 1001.0


def test_the_formula_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    for text in (
        f"__import__('os').system('touch {marker}')",
        f"open('{marker}', 'w')",
        f"exp(__import__('pathlib').Path('{marker}').touch())",
    ):
        with pytest.raises(ExpressionError):
            parse(text).evaluate({})
    assert not marker.exists()


def test_parse_needs_a_string():
    with pytest.raises(TypeError, match="must be a str"):
        parse(b"x")  # type: ignore[arg-type]


# -- evaluation errors --------------------------------------------------------------------------------


def test_unbound_names_are_named_and_pointed_at():
    with pytest.raises(ExpressionError) as info:
        parse("y * (x + z)").evaluate({"y": 1.0})
    assert info.value.message == "no value for x, z"
    assert info.value.text[info.value.start : info.value.end] == "x"


@pytest.mark.parametrize(
    "text, bindings, words, part",
    [
        ("x + log(y)", {"x": 1.0, "y": -1.0}, "log needs a positive input", "log(y)"),
        ("x / (y - y)", {"x": 1.0, "y": 2.0}, "division by zero", "x / (y - y)"),
        ("x ** y", {"x": -1.0, "y": 0.5}, "negative base needs an integer exponent", "x ** y"),
        ("exp(1000) * x", {"x": 1.0}, "overflows", "exp(1000)"),
        ("x + (-8) ** (1/3)", {"x": 1.0}, "negative base", "(-8) ** (1/3)"),
        ("x * 1/0", {"x": 1.0}, "division by zero", "x * 1/0"),
        ("sqrt(-x)", {"x": 1.0}, "sqrt needs a non-negative input", "sqrt(-x)"),
    ],
)
def test_domain_errors_point_at_the_failing_part(text, bindings, words, part):
    with pytest.raises(ExpressionError) as info:
        parse(text).evaluate(bindings)
    assert words in info.value.message
    assert text[info.value.start : info.value.end] == part


# -- robustness: random text is either an Expression or an ExpressionError, never anything else ------

_TOKENS = ["**", "exp(", "leaky_relu(", "lambda ", ".real"]
_ALPHABET = st.sampled_from(list("xy01.+-*/()%[]{}:,'=<>~ ") + _TOKENS)


@settings(deadline=None)
@given(st.lists(_ALPHABET, max_size=20).map("".join))
def test_random_text_is_parsed_or_refused_cleanly(text):
    try:
        expression = parse(text)
    except ExpressionError as err:
        if err.start is not None:
            assert 0 <= err.start <= len(text)
            str(err)
        return
    try:
        root, _ = expression.evaluate(dict.fromkeys(expression.names, 0.5))
    except ExpressionError:
        return
    assert isinstance(root, Value)


# -- an independent oracle: Python's own arithmetic on a formula generated from the grammar ----------

_SAFE = {"exp": math.exp, "tanh": math.tanh, "sin": math.sin, "cos": math.cos, "abs": abs}


def _formulas():
    leaf = st.sampled_from(["u", "v", "2", "0.5", "3"])  # u, v: letters in no function's name

    def extend(inner):
        operator = st.sampled_from(["+", "-", "*"])
        binary = st.tuples(inner, operator, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        call = st.tuples(st.sampled_from(sorted(_SAFE)), inner).map(lambda t: f"{t[0]}({t[1]})")
        neg = inner.map(lambda s: f"-{s}")
        return binary | call | neg

    return st.recursive(leaf, extend, max_leaves=8)


@settings(deadline=None)
@given(_formulas(), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_values_and_grads_match_python_and_finite_differences(text, u, v):
    assume("u" in text or "v" in text)
    expression = parse(text)
    bindings = {"u": u, "v": v}
    root, leaves = expression.evaluate({n: bindings[n] for n in expression.names})
    root.backward()

    # the test generated this text from the grammar above, so Python may evaluate it as the oracle
    def f(**kw):
        return eval(text, {"__builtins__": {}}, {**_SAFE, **kw})

    assert root.data == pytest.approx(f(**bindings), rel=1e-12, abs=1e-12)
    h = 1e-6
    for name in expression.names:
        up, down = dict(bindings), dict(bindings)
        up[name] += h
        down[name] -= h
        numeric = (f(**up) - f(**down)) / (2 * h)
        if "abs" in text and abs(numeric - leaves[name].grad) > 1e-3:
            continue  # a kink of abs between x - h and x + h
        assert leaves[name].grad == pytest.approx(numeric, rel=1e-4, abs=1e-4)


def _nodes(root):
    seen, stack, out = set(), [root], []
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        out.append(v)
        stack += v.parents
    return out


def test_every_function_a_formula_may_call_is_a_value_method() -> None:
    # FUNCTIONS is the one list: the evaluator calls the Value method of the same name (abs: abs())
    for name in FUNCTIONS:
        root, leaves = parse(f"{name}(x)").evaluate({"x": 0.5})
        expected = abs(Value(0.5)) if name == "abs" else getattr(Value(0.5), name)()
        assert (root.op, root.data) == (expected.op, expected.data), name
        assert root.parents == (leaves["x"],)
