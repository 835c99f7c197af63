"""Fuzz nn.load with Hypothesis: random bytes, random JSON and damaged copies of real model files.

Whatever the file holds, nn.load either returns a model or raises ModelFileError; on an error the model
it was given is unchanged, and loading never changes anything on disk. Bounded and derandomized, so the
suite stays fast and repeatable.
"""

import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nn import MLP, BatchNorm1d, ModelFileError, load, save

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

MODELS = {
    "mlp": lambda: MLP(2, [3, 1], seed=1),
    "batchnorm": lambda: MLP(2, [2, 1], batchnorm=True, seed=2),
    "bn": lambda: BatchNorm1d(2),
}


def _valid_payloads():
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, make in MODELS.items():
            path = Path(folder) / "m.json"
            save(make(), path)
            out[name] = path.read_text()
    return out


VALID = _valid_payloads()

# numbers at the edges of what a model file may hold: beyond a float, negative (a variance), huge counts
edge_numbers = st.sampled_from([10**400, -(10**400), 1e308, -1e308, 5e-324, -5, -1e-300, 0, 2**63, 1.5])
json_scalars = (st.none() | st.booleans() | st.integers() | edge_numbers
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _check_load(raw: bytes, model_name: str) -> None:
    """Load ``raw`` into a fresh model and as a new model: a model or ModelFileError, nothing else."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.json"
        path.write_bytes(raw)
        target = MODELS[model_name]()
        before = target.state_dict()
        try:
            assert load(path, target) is target
        except ModelFileError as err:
            assert err.path == str(path) and str(err).startswith(str(path))
            assert target.state_dict() == before  # unchanged on every failure
        else:
            _usable(target)
        try:
            built = load(path)
        except ModelFileError:
            pass
        else:
            _usable(built)
        assert os.listdir(folder) == ["m.json"] and path.read_bytes() == raw  # nothing changed on disk


def _usable(model) -> None:
    """A model that loaded must work: its eval forward pass gives finite outputs (no domain error).

    Weights near the float limit (1e308 is finite, so a file may hold it) may overflow in the forward
    pass; the engine then raises its own OverflowError that says so, which is not a loading bug.
    """
    model.eval()
    width = model.num_features if isinstance(model, BatchNorm1d) else model.nin
    try:
        out = model([[0.5] * width, [-1.0] * width])
    except OverflowError as err:
        assert "overflows a float" in str(err)
        return
    flat = [v for row in out for v in (row if isinstance(row, list) else [row])]
    assert all(math.isfinite(v.data) for v in flat)


@FUZZ
@given(raw=st.binary(max_size=600), model_name=st.sampled_from(sorted(MODELS)))
def test_random_bytes(raw, model_name):
    _check_load(raw, model_name)


@FUZZ
@given(value=json_values, model_name=st.sampled_from(sorted(MODELS)))
def test_random_json(value, model_name):
    _check_load(json.dumps(value).encode(), model_name)


def _entry_kind(key: str) -> str:
    """The last name in a dotted state key that is not an index: "running_var" for "norms.0.running_var.1"."""
    names = [part for part in key.split(".") if not part.isdigit()]
    return names[-1] if names else key  # a key the fuzz added may be all digits


def _paths(payload):
    """Every (container, key) in a payload: where a value can be replaced or removed."""
    out = []
    stack = [payload]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            out.append((node, key))
            if isinstance(value, (dict, list)):
                stack.append(value)
    return out


@FUZZ
@given(data=st.data(), model_name=st.sampled_from(sorted(MODELS)))
def test_damaged_model_files(data, model_name):
    """A real file with one or two edits: a value replaced by random JSON, a key removed or added.

    Half the edits hit a state value (weights, running statistics, counts), where a wrong number is
    easiest to miss, each kind of entry as often as the others.
    """
    payload = json.loads(VALID[model_name])
    for _ in range(data.draw(st.integers(1, 2), label="edits")):
        paths = _paths(payload)
        state = payload.get("state")
        if isinstance(state, dict) and state and data.draw(st.booleans(), label="a state value"):
            # pick the kind of entry first (w, b, running_var, ...), so each kind is hit as often
            kinds = sorted({_entry_kind(k) for k in state})
            kind = data.draw(st.sampled_from(kinds), label="kind")
            container, key = state, data.draw(st.sampled_from([k for k in state if _entry_kind(k) == kind]))
        else:
            container, key = data.draw(st.sampled_from(paths), label="where")
        action = data.draw(st.sampled_from(["replace", "replace", "remove", "add"]), label="action")
        if action == "replace":
            container[key] = data.draw(edge_numbers | json_values, label="value")
        elif action == "remove":
            del container[key]
        elif isinstance(container, dict):
            container[data.draw(st.text(max_size=8), label="new key")] = data.draw(json_values, label="value")
        else:
            container.append(data.draw(json_values, label="value"))
    _check_load(json.dumps(payload).encode(), model_name)


@FUZZ
@given(data=st.data(), model_name=st.sampled_from(sorted(MODELS)), number=edge_numbers | json_scalars)
def test_one_state_value_at_the_edges(data, model_name, number):
    """One state value (each kind as often) set to a number a float cannot hold, a negative, a huge count."""
    payload = json.loads(VALID[model_name])
    state = payload["state"]
    kind = data.draw(st.sampled_from(sorted({_entry_kind(k) for k in state})), label="kind")
    key = data.draw(st.sampled_from([k for k in state if _entry_kind(k) == kind]), label="key")
    state[key] = number
    _check_load(json.dumps(payload).encode(), model_name)


@FUZZ
@given(data=st.data(), model_name=st.sampled_from(sorted(MODELS)))
def test_damaged_bytes_of_model_files(data, model_name):
    """A real file truncated, or with bytes overwritten or inserted."""
    raw = bytearray(VALID[model_name].encode())
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(raw)), label="at")
        action = data.draw(st.sampled_from(["truncate", "overwrite", "insert"]), label="action")
        chunk = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        if action == "truncate":
            del raw[at:]
        elif action == "overwrite":
            raw[at:at + len(chunk)] = chunk
        else:
            raw[at:at] = chunk
    _check_load(bytes(raw), model_name)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_the_valid_files_the_fuzz_starts_from_load(model_name):
    """The fuzz is only meaningful if its undamaged inputs load: check that they do."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.json"
        path.write_text(VALID[model_name])
        assert load(path).state_dict() == MODELS[model_name]().state_dict()
