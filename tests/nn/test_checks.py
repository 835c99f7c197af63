"""Tests for nn/_checks.py: one meaning of an int, a number, a flag and a sample across nn."""

import math

import numpy as np
import pytest

from autograd import Constant, Value
from nn._checks import (
    DuplicateKeyError,
    as_value,
    flag,
    integer,
    is_int,
    is_real,
    real,
    sample_problem,
    unique_dict,
)


@pytest.mark.parametrize("x, int_, real_", [
    (3, True, True), (np.int64(3), True, True), (2.5, False, True), (np.float64(2.5), False, True),
    (True, False, False), (np.bool_(True), False, False), ("3", False, False), (None, False, False),
    (Value(1.0), False, False), (1 + 0j, False, False), (math.nan, False, True),
])
def test_what_counts_as_an_int_and_a_number(x, int_, real_):
    assert is_int(x) is int_ and is_real(x) is real_


def test_integer_and_real_say_what_was_wrong():
    assert integer("epochs", np.int64(3), 1) == 3 and type(integer("epochs", np.int64(3))) is int
    with pytest.raises(TypeError, match=r"epochs must be an int, got bool \(True\)"):
        integer("epochs", True)
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        integer("epochs", 0, 1)
    assert real("lr", 1) == 1.0 and real("x", math.inf, finite=False) == math.inf
    with pytest.raises(ValueError, match="lr must be finite, got nan"):
        real("lr", math.nan)
    with pytest.raises(ValueError, match="too large to convert to float"):
        real("lr", 10**400, finite=False)
    with pytest.raises(TypeError, match=r"lr must be a number, got str \('0.1'\)"):
        real("lr", "0.1")
    assert flag("expand", False) is False
    with pytest.raises(TypeError, match="expand must be a bool"):
        flag("expand", 1)


def test_as_value_keeps_values_and_wraps_numbers_as_constants():
    v = Value(2.0)
    assert as_value(v, "p") is v
    c = as_value(np.float64(1.5), "p")
    assert type(c) is Constant and c.data == 1.5
    with pytest.raises(TypeError, match="prediction 0 must be a Value or a number, got bool"):
        as_value(True, "prediction 0")


@pytest.mark.parametrize("x, nin, values, problem", [
    ([1.0, Value(2.0), 3], 3, True, None),
    ((1.0, 2.0), None, False, None),
    ("ab", 2, True, ("list", -1)),
    ([[1.0, 2.0]], 2, True, ("nested", -1)),
    ([[1.0, 2.0]], 1, False, ("type", 0)),  # a data set's row: a list inside is a bad feature
    ([1.0], 2, True, ("count", -1)),
    ([1.0, "2"], 2, True, ("type", 1)),
    ([1.0, True], 2, True, ("type", 1)),
    ([1.0, Value(2.0)], 2, False, ("type", 1)),
    ([1.0, math.inf], 2, True, ("finite", 1)),
    ([10**400, 1.0], 2, True, ("finite", 0)),  # an int no float can hold
])
def test_sample_problems(x, nin, values, problem):
    assert sample_problem(x, nin, values) == problem


def test_unique_dict_refuses_a_key_given_twice():
    assert unique_dict([("a", 1), ("b", 2)]) == {"a": 1, "b": 2}
    with pytest.raises(DuplicateKeyError, match="duplicate key 'a'") as info:
        unique_dict([("a", 1), ("a", 2)])
    assert info.value.key == "a" and isinstance(info.value, ValueError)
