"""Tests for nn.serialization: model files round-trip, carry a format version, are written atomically with the
shell's permissions, and every bad file (or special file) is refused with a ModelFileError that names the file
and the key, leaving the model unchanged."""

import errno
import json
import math
import os
import stat
import threading

import pytest

import nn.serialization as serialization
from autograd import Value
from nn import MLP, BatchNorm1d, Layer, ModelFileError, Module, Neuron, load, save


def tree(path):
    return sorted(os.listdir(path))


class Unsavable(Module):
    """A user-defined module without config(): nn.save must refuse it."""

    def __init__(self):
        self.w = Value(1.0)


# -- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLP(2, [4, 4, 3], activation="tanh", residual=True, seed=3),
        lambda: MLP(3, [5, 5, 1], activation="leaky_relu", batchnorm=True, negative_slope=0.2, seed=4),
        lambda: Layer(3, 2, "sigmoid", seed=5),
        lambda: Neuron(3, "linear", seed=6),
        lambda: BatchNorm1d(3, eps=1e-3, momentum=None),
    ],
)
def test_save_and_load_round_trip(tmp_path, make):
    model = make()
    if isinstance(model, (BatchNorm1d, MLP)):
        width = model.nin if isinstance(model, MLP) else model.num_features
        model([[1.0, 2.0, 3.0][:width], [0.0, -1.0, 2.0][:width]])  # moves the running statistics
    path = tmp_path / "model.json"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is type(model) and loaded.config() == model.config()
    assert loaded.state_dict() == model.state_dict()  # JSON floats round-trip exactly
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert tree(tmp_path) == ["model.json"]  # no temporary file left behind


def test_load_into_an_existing_model(tmp_path):
    trained, fresh = MLP(2, [3, 1], seed=1), MLP(2, [3, 1], seed=2)
    save(trained, tmp_path / "m.json")
    assert load(tmp_path / "m.json", fresh) is fresh
    assert fresh.state_dict() == trained.state_dict()
    assert fresh([0.3, 0.4]).data == trained([0.3, 0.4]).data


def test_file_is_plain_json_with_a_format_version(tmp_path):
    save(MLP(2, [1], seed=0), tmp_path / "m.json")
    payload = json.loads((tmp_path / "m.json").read_text())
    assert payload["format"] == "chainrule-model" and payload["version"] == serialization.FORMAT_VERSION == 1
    assert payload["class"] == "MLP" and payload["config"]["nouts"] == [1]
    assert set(payload) == {"format", "version", "class", "config", "state"}
    assert set(payload["state"]) == {"layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1",
                                     "layers.0.neurons.0.b"}


# -- bad files: ModelFileError naming the file and the key, the model unchanged -----------------------------


def _saved(tmp_path, model, change=None):
    path = tmp_path / "m.json"
    save(model, path)
    if change is not None:
        path.write_text(change(path.read_text()))
    return path


def _edit(edit):
    def change(text):
        payload = json.loads(text)
        edit(payload)
        return json.dumps(payload)

    return change


B = "layers.0.neurons.0.b"
BAD_FILES = [
    # (change to the saved text, the key the error names, words of the reason)
    (lambda t: t[: len(t) // 2], "", "corrupt or truncated"),
    (lambda t: "", "", "corrupt or truncated"),
    (lambda t: t + "garbage", "", "corrupt or truncated"),
    (lambda t: t.replace("0.0", "NaN", 1), "", "NaN is not a finite number"),
    (lambda t: "[1, 2]", "", "not a chainrule model file"),
    (lambda t: '"chainrule-model"', "", "not a chainrule model file"),
    (_edit(lambda p: p.update(format="pickle")), "", "not a chainrule model file"),
    (_edit(lambda p: p.update(version=2)), "version", "newer chainrule"),
    (_edit(lambda p: p.update(version=0)), "version", "older than any this chainrule reads"),
    (_edit(lambda p: p.update(version="1")), "version", "not a format version number"),
    (_edit(lambda p: p.update(version=True)), "version", "not a format version number"),
    (_edit(lambda p: p.pop("version")), "version", "not a format version number"),
    (_edit(lambda p: p.update(extra=1)), '"extra"', "not a key of a model file"),
    (_edit(lambda p: p.update({"class": "os.system"})), "class", "not a class nn.load can build"),
    (_edit(lambda p: p.update({"class": "Module"})), "class", "not a class nn.load can build"),
    (_edit(lambda p: p.update({"class": ["MLP"]})), "class", "not a class nn.load can build"),
    (_edit(lambda p: p.update(state=[1, 2])), "state", "must be an object"),
    (_edit(lambda p: p.update(config=None)), "config", "must be an object"),
    (_edit(lambda p: p["state"].pop(B)), "state", "missing 1 keys"),
    (_edit(lambda p: p["state"].update(extra=1.0)), "state", "1 unexpected keys"),
    (_edit(lambda p: p["state"].update({B: "x"})), f'state["{B}"]', "must be a number, got str"),
    (_edit(lambda p: p["state"].update({B: None})), f'state["{B}"]', "must be a number, got NoneType"),
    (_edit(lambda p: p["state"].update({B: [1.0]})), f'state["{B}"]', "must be a number, got list"),
    (_edit(lambda p: p["state"].update({B: False})), f'state["{B}"]', "must be a number, got bool"),
    (lambda t: t.replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": 1' + "0" * 400),
     f'state["{B}"]', "too large for a float"),
    (lambda t: t.replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": 1e400'),
     f'state["{B}"]', "is inf"),
    (lambda t: t.replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": 1' + "0" * 5000),
     "", "corrupt or truncated"),  # beyond Python's 4,300-digit limit for an int
    (_edit(lambda p: p["config"].update(nouts=[3, 2])), "config", "does not match"),
    (_edit(lambda p: p["config"].update(batchnorm=True)), "config", "does not match"),
]


@pytest.mark.parametrize("change, key, words", BAD_FILES)
def test_bad_files_raise_a_model_file_error_and_leave_the_model_unchanged(tmp_path, change, key, words):
    path = _saved(tmp_path, MLP(2, [3, 1], seed=1), change)
    target = MLP(2, [3, 1], seed=2)
    before = target.state_dict()
    with pytest.raises(ModelFileError) as info:
        load(path, target)
    err = info.value
    assert err.path == str(path) and err.key == key and words in err.reason
    assert str(err).startswith(f"{path}: ") and words in str(err) and "\n" not in str(err)
    assert isinstance(err, ValueError)
    assert target.state_dict() == before


@pytest.mark.parametrize("change, key, words", [case for case in BAD_FILES if case[2] != "does not match"])
def test_bad_files_raise_a_model_file_error_when_building_a_new_model(tmp_path, change, key, words):
    path = _saved(tmp_path, MLP(2, [3, 1], seed=1), change)
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert info.value.key == key  # the reason may differ: a new model checks the config's size first


def test_the_error_pickles_and_keeps_its_parts():
    import pickle

    err = pickle.loads(pickle.dumps(ModelFileError("m.json", "version", "is 'x'")))
    assert (err.path, err.key, err.reason) == ("m.json", "version", "is 'x'")
    assert str(err) == "m.json: version: is 'x'"


def test_duplicate_keys_are_rejected(tmp_path):
    path = _saved(tmp_path, Neuron(1, seed=0), lambda t: t.replace('"format"', '"format": "x", "format"', 1))
    with pytest.raises(ModelFileError, match="duplicate key 'format'"):
        load(path)


def test_text_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ModelFileError, match="is not UTF-8 text"):
        load(path)


def test_a_byte_order_mark_is_accepted(tmp_path):
    model = Neuron(2, seed=0)
    path = _saved(tmp_path, model)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load(path).state_dict() == model.state_dict()


def test_a_bad_config_raises_a_model_file_error_when_building(tmp_path):
    cases = [({"evil": 1}, "unexpected keyword argument 'evil'"),
             ({"activation": "__import__"}, "unknown activation"),
             ({"negative_slope": 10**400}, "too large to convert to float"),
             ({"seed": [[1]]}, "cannot build MLP"),
             ({"nouts": "1"}, "nouts must be a non-empty list")]
    for edit, words in cases:
        path = _saved(tmp_path, MLP(2, [1], seed=0), _edit(lambda p, e=edit: p["config"].update(e)))
        with pytest.raises(ModelFileError, match="cannot build MLP") as info:
            load(path)
        assert info.value.key == "config" and words in str(info.value)


@pytest.mark.parametrize(
    "make",
    [lambda: MLP(2, [3, 3, 1], batchnorm=True, seed=0), lambda: Layer(2, 3, seed=0),
     lambda: Neuron(2, seed=0), lambda: BatchNorm1d(3), lambda: BatchNorm1d(3, affine=False)],
)
def test_state_size_matches_every_savable_class(make):
    model = make()
    assert type(model)._state_size(model.config()) == len(model.state_dict())


@pytest.mark.parametrize("config", [{"nin": 10**9}, {"nouts": [10**6] * 3}, {"batchnorm": True}])
def test_an_oversized_config_is_refused_before_building(tmp_path, config):
    path = _saved(tmp_path, MLP(2, [3, 1], seed=0), _edit(lambda p: p["config"].update(config)))
    with pytest.raises(ModelFileError, match="state values but the file holds 13") as info:
        load(path)
    assert info.value.key == "state"


def test_loading_into_another_class_is_refused(tmp_path):
    save(Neuron(2, seed=0), tmp_path / "n.json")
    layer = Layer(2, 1, seed=0)
    before = layer.state_dict()
    with pytest.raises(ModelFileError, match="does not match"):
        load(tmp_path / "n.json", layer)
    assert layer.state_dict() == before
    with pytest.raises(TypeError, match="must be an nn.Module"):
        load(tmp_path / "n.json", "a model")


def test_nesting_is_bounded(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # deeper than Python's parser goes
    with pytest.raises(ModelFileError, match="nests lists or objects more than 32 deep"):
        load(path)
    # deep enough to pass the parser, still no model file: named by where it is
    payload = json.loads(_saved(tmp_path, Neuron(1, seed=0)).read_text())
    payload["config"]["seed"] = json.loads("[" * 40 + "]" * 40)
    path.write_text(json.dumps(payload))
    with pytest.raises(ModelFileError, match="nests") as info:
        load(path)
    assert info.value.key.startswith("config[\"seed\"][0][0]")


# -- BatchNorm statistics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, text, words",
    [("running_var.1", "-5", "is -5; running_var is a variance, so it must be >= 0"),
     ("running_var.0", "-1e-300", "must be >= 0"),
     ("running_mean.2", "1e999", "is inf"),
     ("num_batches_tracked", "-1", "it counts, so it must be an int >= 0"),
     ("num_batches_tracked", "2.5", "it counts, so it must be an int >= 0")],
)
def test_batchnorm_statistics_are_checked(tmp_path, key, text, words):
    bn = BatchNorm1d(3)
    bn([[1.0, 2.0, 3.0], [3.0, 1.0, 0.0]])
    path = _saved(tmp_path, bn)
    payload = path.read_text()
    old = json.dumps(bn.state_dict()[key])
    path.write_text(payload.replace(f'"{key}": {old}', f'"{key}": {text}'))
    target = BatchNorm1d(3)
    before = target.state_dict()
    with pytest.raises(ModelFileError) as info:
        load(path, target)
    assert info.value.key == f'state["{key}"]' and words in info.value.reason
    assert target.state_dict() == before
    with pytest.raises(ModelFileError, match=words.split(";")[0]):
        load(path)


def test_a_batchnorm_inside_an_mlp_is_checked_by_its_dotted_name(tmp_path):
    model = MLP(2, [3, 1], batchnorm=True, seed=0)
    path = _saved(tmp_path, model, _edit(lambda p: p["state"].update({"norms.0.running_var.1": -5.0})))
    with pytest.raises(ModelFileError) as info:
        load(path)
    assert info.value.key == 'state["norms.0.running_var.1"]'


# -- sizes and special files: refused before reading ------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_and_the_limit_can_be_raised(tmp_path):
    model = Neuron(3, seed=0)
    path = _saved(tmp_path, model)
    size = path.stat().st_size
    assert load(path, max_bytes=size).state_dict() == model.state_dict()
    with pytest.raises(ModelFileError, match=f"larger than {size - 1:,} bytes.*max_bytes"):
        load(path, max_bytes=size - 1)
    assert serialization.MAX_FILE_BYTES == 64 * 1024 * 1024
    with pytest.raises(ValueError, match="max_bytes must be an int >= 1"):
        load(path, max_bytes=0)


def _in_a_thread(fn, timeout=20.0):
    """Run fn() in a daemon thread; returns (finished, result or exception) so a hang fails, not blocks."""
    box = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the test to inspect
            box["result"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), box.get("result")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero (Linux, macOS)")
def test_dev_zero_is_refused_without_reading():
    # max_bytes keeps even a wrong implementation from reading without bound: it would fail on the size
    finished, result = _in_a_thread(lambda: load("/dev/zero", max_bytes=4096))
    assert finished
    assert isinstance(result, ModelFileError) and "is a character device, not a model file" in str(result)
    assert result.path == "/dev/zero"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    try:
        finished, result = _in_a_thread(lambda: load(fifo))
    finally:
        # if the code under test regressed and a reader is stuck in open(), opening the writing end lets
        # it go; with no reader waiting (the expected case) the open fails with ENXIO
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as err:
            assert err.errno == errno.ENXIO
    assert finished, "nn.load hung on a FIFO"
    assert isinstance(result, ModelFileError) and "is a FIFO (named pipe), not a model file" in str(result)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="is a directory, not a model file"):
        load(tmp_path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.json")


# -- format versions -----------------------------------------------------------------------------------


def test_an_older_format_is_upgraded_when_an_upgrade_exists(tmp_path, monkeypatch):
    """What a format change does: version 2 renames "state" to "weights"; version-1 files still load."""
    model = MLP(2, [2, 1], seed=0)
    old = _saved(tmp_path, model)  # a version-1 file

    def upgrade(payload):
        return {**payload, "version": 2}

    monkeypatch.setattr(serialization, "FORMAT_VERSION", 2)
    monkeypatch.setattr(serialization, "_UPGRADES", {1: upgrade})
    assert load(old).state_dict() == model.state_dict()
    save(model, tmp_path / "new.json")
    assert json.loads((tmp_path / "new.json").read_text())["version"] == 2
    monkeypatch.setattr(serialization, "_UPGRADES", {})  # no upgrade: refused with what to do
    with pytest.raises(ModelFileError, match="older than any this chainrule reads.*save it again") as info:
        load(old)
    assert info.value.key == "version"


def test_a_newer_format_is_refused_with_what_to_do(tmp_path):
    path = _saved(tmp_path, Neuron(1, seed=0), _edit(lambda p: p.update(version=7)))
    with pytest.raises(ModelFileError, match=r"format version 7, written by a newer chainrule.*pip install "
                                             r"--upgrade chainrule"):
        load(path)


# -- saving: atomic, the shell's permissions, symlinks, long names ----------------------------------------


def test_save_replaces_atomically_and_cleans_up_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    first = MLP(2, [2, 1], seed=1)
    save(first, path)
    original = path.read_bytes()

    for target in ("replace", "fsync"):
        def broken(*args, target=target):
            raise OSError(errno.ENOSPC, f"No space left on device ({target})")

        monkeypatch.setattr(os, target, broken)
        with pytest.raises(OSError, match="No space left"):
            save(MLP(2, [2, 1], seed=2), path)
        monkeypatch.undo()
        assert path.read_bytes() == original  # the old file is intact
        assert tree(tmp_path) == ["m.json"]  # and the temporary file is gone
    assert load(path).state_dict() == first.state_dict()


def test_save_refuses_non_finite_weights_and_unsavable_modules(tmp_path):
    model = MLP(2, [1], seed=0)
    model.layers[0].neurons[0].b.data = math.nan
    with pytest.raises(ValueError, match="layers.0.neurons.0.b is nan"):
        save(model, tmp_path / "m.json")
    with pytest.raises(TypeError, match="define config"):
        save(Unsavable(), tmp_path / "p.json")
    with pytest.raises(TypeError, match="needs an nn.Module"):
        save({"w": 1.0}, tmp_path / "d.json")
    assert tree(tmp_path) == []


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_save_keeps_an_existing_files_mode(tmp_path):
    path = tmp_path / "secret.json"
    save(Neuron(1, seed=0), path)
    os.chmod(path, 0o600)
    save(Neuron(1, seed=1), path)
    assert _mode(path) == 0o600
    os.chmod(path, 0o640)
    save(Neuron(1, seed=2), path)
    assert _mode(path) == 0o640


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o027])
def test_a_new_file_honours_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        save(Neuron(1, seed=0), tmp_path / "m.json")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "m.json") == 0o666 & ~umask


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_save_writes_through_a_symlink(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    target = real / "model.json"
    save(Neuron(1, seed=0), target)
    os.chmod(target, 0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    model = Neuron(1, seed=1)
    save(model, link)
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link is kept
    assert load(target).state_dict() == model.state_dict()  # its target got the new model
    assert _mode(target) == 0o600
    assert tree(real) == ["model.json"] and tree(tmp_path) == ["link.json", "real"]
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(real / "new.json")
    save(model, dangling)  # like the shell's >, a dangling link's target is created
    assert dangling.is_symlink() and load(real / "new.json").state_dict() == model.state_dict()


def test_save_works_for_the_longest_name_the_file_system_accepts(tmp_path):
    longest = os.pathconf(tmp_path, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    model = Neuron(2, seed=0)
    for length in (250, longest):
        path = tmp_path / ("m" * (length - 5) + ".json")
        save(model, path)
        assert load(path).state_dict() == model.state_dict()
    assert len(tree(tmp_path)) == 2
    with pytest.raises(OSError, match="too long"):
        save(model, tmp_path / ("m" * longest + ".json"))
    assert len(tree(tmp_path)) == 2  # no temporary file left


def test_save_refuses_a_directory_or_special_file_as_the_path(tmp_path):
    (tmp_path / "d.json").mkdir()
    with pytest.raises(ValueError, match="is a directory, not a regular file"):
        save(Neuron(1, seed=0), tmp_path / "d.json")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "f.json")
        with pytest.raises(ValueError, match="is a FIFO"):
            save(Neuron(1, seed=0), tmp_path / "f.json")
    assert tree(tmp_path) == sorted(["d.json", *(["f.json"] if hasattr(os, "mkfifo") else [])])


def test_a_failed_block_of_atomic_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), serialization.atomic_write(path) as f:
        f.write(b"half")
        raise RuntimeError("the caller failed mid-way")
    assert path.read_text() == "old" and tree(tmp_path) == ["out.txt"]
    with serialization.atomic_write(path) as f:
        f.write(b"new")
    assert path.read_text() == "new" and tree(tmp_path) == ["out.txt"]
