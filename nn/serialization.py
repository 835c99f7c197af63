"""Model files: ``save`` and ``load`` a Module as versioned JSON, written atomically, read running no code.

``load`` refuses anything that is not a model file this version can read with a ``ModelFileError`` that
names the file, the key and what was wrong, and leaves the model it was given unchanged.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import reprlib
import secrets
import stat
from collections.abc import Callable, Iterator
from typing import IO, Any

from ._checks import integer, is_int, unique_dict
from .module import _SAVABLE, Module

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_FILE_BYTES", "ModelFileError", "atomic_write", "load", "save"]

FORMAT = "chainrule-model"  # the "format" field of every file nn.save writes
FORMAT_VERSION = 1  # the "version" field; bump it when the layout of a file changes
# Upgrades from older format versions: _UPGRADES[v] turns a version-v payload into a version v+1 one.
# A change of format bumps FORMAT_VERSION and adds its upgrade here, so the files users have keep loading.
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
_KEYS = ("format", "version", "class", "config", "state")

# A file larger than this is refused before it is read. A saved parameter takes ~53 bytes (MLP(2, [300,
# 300, 1]): 91,501 parameters in 4.8 MB), so 64 MiB holds about 1.2 million: more than a scalar engine
# trains in a day, and small enough that parsing it needs a few hundred MB at most.
MAX_FILE_BYTES = 64 * 1024 * 1024
# A model file nests three deep ({"config": {"nouts": [...]}}); anything much deeper is not one, and
# deeply nested lists would make comparisons and reprs of the config recurse.
_MAX_DEPTH = 32
_TEMP_TRIES = 100


class ModelFileError(ValueError):
    """A model file that is not valid JSON, not a chainrule model, or does not fit the model.

    ``path`` is the file, ``key`` where in it the problem is (``'state["layers.0.neurons.0.b"]'``, or ""
    for the file as a whole) and ``reason`` what was wrong and what to do.
    """

    def __init__(self, path: str, key: str, reason: str) -> None:
        super().__init__(path, key, reason)
        self.path = path
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        where = f"{self.path}: {self.key}" if self.key else self.path
        return f"{where}: {self.reason}"


# ------------------------------------------------------------------------------------------------
# Writing


def save(model: Module, path: str | os.PathLike[str]) -> None:
    """Write ``model`` (its class, constructor config and state) to ``path`` as JSON, atomically.

    The file is written under a short temporary name in the same folder, flushed to disk and renamed
    over ``path``, so a crash or a full disk leaves the old file (or none) and no temporary file. Like the
    shell's ``>``: a new file gets the usual permissions (0666 less the umask), an existing file keeps its
    mode, and a symlink is written through (its target is replaced; the link stays). Raises TypeError
    for a module that cannot be saved, ValueError for a non-finite weight or a path that is a directory or
    a special file, and OSError when the file system refuses.

    >>> import tempfile, nn
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     nn.save(nn.Neuron(2, seed=0), f"{folder}/neuron.json")
    ...     nn.load(f"{folder}/neuron.json")
    Neuron(2, activation='relu')
    """
    if not isinstance(model, Module):
        raise TypeError(f"save needs an nn.Module, got {type(model).__name__}")
    name = type(model).__name__
    if _SAVABLE.get(name) is not type(model):
        raise TypeError(
            f"{name} cannot be saved with nn.save: define config() on it (the keyword arguments that "
            "rebuild it), or save its state_dict() yourself"
        )
    state = model.state_dict()
    for key, value in state.items():
        if not math.isfinite(value):
            raise ValueError(f"cannot save: {key} is {value!r}; JSON holds only finite numbers")
    payload = {"format": FORMAT, "version": FORMAT_VERSION, "class": name, "config": model.config(),
               "state": state}
    data = json.dumps(payload, allow_nan=False, indent=1).encode("utf-8")
    with atomic_write(path) as f:
        f.write(data)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary file that replaces ``path`` when the block ends without an error, and vanishes if it fails.

    Written under a short temporary name beside the file (so any name the file system accepts works),
    flushed to disk, then renamed over it. Permissions follow the shell's ``>``: an existing file keeps its
    mode, a new one gets 0666 less the umask (the kernel applies it, and default ACLs). A symlink is
    written through: its target is replaced and the link kept.
    """
    target = os.fspath(path)
    if os.path.islink(target):
        target = os.path.realpath(target)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        mode = None
    else:
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{target} is {_kind(st.st_mode)}, not a regular file; give a file name")
        mode = stat.S_IMODE(st.st_mode)
    folder = os.path.dirname(target) or "."
    fd, tmp = _create_temporary(folder)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def _create_temporary(folder: str) -> tuple[int, str]:
    # NOTE: a short name of our own, not mkstemp's ".<name>.XXXXXXXX.tmp": a temporary name built from a
    # 250-character file name would pass the 255-byte limit and fail a valid save. The mode 0o666 lets the
    # kernel apply the umask, as the shell does; mkstemp's 0600 would then need a racy os.umask() read.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(_TEMP_TRIES):
        tmp = os.path.join(folder, f".chainrule-{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {folder} ({_TEMP_TRIES} names taken)")


def _sync_folder(folder: str) -> None:
    """Flush the rename to disk too (best effort: not every system can open a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ------------------------------------------------------------------------------------------------
# Reading


def load(path: str | os.PathLike[str], model: Module | None = None, *,
         max_bytes: int = MAX_FILE_BYTES) -> Module:
    """Read a file written by ``save``: build a new model, or load the weights into ``model``.

    Only JSON is parsed and only the nn classes that define ``config()`` can be built, so a file can never
    run code. A file larger than ``max_bytes`` (64 MiB by default, about 1.2 million parameters) or that
    is not a regular file (a folder, a FIFO, a device such as /dev/zero) is refused before it is read.
    Anything wrong with the file (corrupt or truncated JSON, nesting deeper than a model file has,
    numbers too large for a float, a format version this chainrule cannot read, a config or state that
    does not fit, BatchNorm statistics that are not finite or a variance below 0) raises
    ``ModelFileError`` naming the file, the key and the problem, and leaves ``model`` unchanged. A file
    that cannot be opened (missing, no permission) raises the usual OSError.
    """
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"load(path, model): model must be an nn.Module or None, got {type(model).__name__}")
    if integer("max_bytes", max_bytes) < 1:
        raise ValueError(f"max_bytes must be an int >= 1, got {max_bytes!r}")
    name = os.fspath(path)
    payload = _parse(name, _read(name, max_bytes))
    cls, config, state = _check_payload(name, payload)
    if model is not None:
        if type(model) is not cls or _shape(cls, model.config()) != _shape(cls, config):
            raise ModelFileError(
                name, "config",
                f"the file holds {cls.__name__}({_show(config)}), which does not match the model given, "
                f"{type(model).__name__}({_show(_config_or_none(model))}); "
                "call nn.load(path) without a model to build the saved one",
            )
        target = model
    else:
        # NOTE: check the size the config implies before building: a few bytes of config such as
        # {"nin": 10**9} would otherwise allocate a billion Values before any key check.
        expected = cls._state_size(config)
        if expected is not None and expected != len(state):
            raise ModelFileError(
                name, "state",
                f"the config describes a {cls.__name__} with {expected} state values but the file holds "
                f"{len(state)}; the file is damaged or was edited",
            )
        try:
            target = cls(**config)
        except (TypeError, ValueError, ArithmeticError, RecursionError, MemoryError) as e:
            raise ModelFileError(name, "config", f"cannot build {cls.__name__} from it: {e}") from None
    problem = target._state_problem(state)
    if problem is not None:
        _, key, reason = problem
        raise ModelFileError(name, f"state[{json.dumps(key)}]" if key else "state", reason)
    target._write_state(state)  # checked above, so this writes every value and cannot fail half-way
    return target


def _read(name: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; special files are refused before opening."""
    st = os.stat(name)  # NOTE: stat first: merely opening some devices (a tape, a serial line) acts
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(name, "", f"is {_kind(st.st_mode)}, not a model file; give the path of a .json "
                             "file written by nn.save")
    _check_size(name, st.st_size, max_bytes)
    # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening it must not wait for a writer.
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ModelFileError(name, "", f"is {_kind(st.st_mode)}, not a model file")
        raw = f.read(max_bytes + 1)  # a file that grows while it is read still stops here
    _check_size(name, len(raw), max_bytes)
    return raw


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ModelFileError(
            name, "",
            f"is larger than {max_bytes:,} bytes, the most nn.load reads (a model file holds ~53 bytes per "
            "parameter); if you trust it, pass a larger max_bytes: nn.load(path, max_bytes=...)",
        )


def _parse(name: str, raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark some editors add is not an error
    except UnicodeDecodeError as e:
        raise ModelFileError(name, "", f"is not UTF-8 text ({e}); is it a model file written by nn.save?") \
            from None
    try:
        payload = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=unique_dict)
    except RecursionError:
        raise ModelFileError(name, "", f"nests lists or objects more than {_MAX_DEPTH} deep; it is not a "
                             "model file") from None
    except MemoryError:
        raise ModelFileError(name, "", "is too large to parse in the memory available") from None
    except ValueError as e:  # JSONDecodeError, NaN, a duplicate key, an int beyond Python's digit limit
        raise ModelFileError(name, "", f"is not valid JSON, so it is corrupt or truncated ({e}); save "
                             "the model again with nn.save") from None
    key = _too_deep(payload)
    if key is not None:
        raise ModelFileError(name, key, f"nests lists or objects more than {_MAX_DEPTH} deep; it is not "
                             "part of a model file")
    return payload


def _too_deep(payload: Any) -> str | None:
    """The key path of a list or object nested deeper than _MAX_DEPTH, or None (an explicit stack)."""
    stack: list[tuple[Any, str, int]] = [(payload, "", 0)]
    while stack:
        value, key, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return key
        if isinstance(value, dict):
            stack.extend((v, f"{key}[{json.dumps(k)}]" if key else k, depth + 1) for k, v in value.items()
                         if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, f"{key}[{i}]", depth + 1) for i, v in enumerate(value)
                         if isinstance(v, (dict, list)))
    return None


def _check_payload(name: str, payload: Any) -> tuple[type[Module], dict[str, Any], dict[str, Any]]:
    """The class, config and state of a model file, after checking its layout and version."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(name, "", f"is not a chainrule model file (no \"format\": \"{FORMAT}\" field)")
    version = payload.get("version")
    if not is_int(version):
        raise ModelFileError(name, "version", f"is {_short(version)}, not a format version number; the file "
                             "is damaged or was written by another program")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            name, "version",
            f"the file has format version {version}, written by a newer chainrule; this one reads versions "
            f"up to {FORMAT_VERSION}: upgrade chainrule (pip install --upgrade chainrule) to load it",
        )
    if version < FORMAT_VERSION and version not in _UPGRADES:
        raise ModelFileError(
            name, "version",
            f"format version {version} is older than any this chainrule reads (versions {_oldest()} to "
            f"{FORMAT_VERSION}); load it with the chainrule that wrote it and save it again, or rebuild "
            "and retrain the model",
        )
    while version < FORMAT_VERSION:
        payload = _UPGRADES[version](payload)
        version += 1
    unexpected = [key for key in payload if key not in _KEYS]
    if unexpected:
        raise ModelFileError(name, json.dumps(unexpected[0]), f"is not a key of a model file (those are "
                             f"{', '.join(_KEYS)}); the file is damaged or was edited")
    cls_name = payload.get("class")
    if not isinstance(cls_name, str) or cls_name not in _SAVABLE:
        raise ModelFileError(name, "class", f"{_short(cls_name)} is not a class nn.load can build; known: "
                             f"{', '.join(sorted(_SAVABLE))}")
    config, state = payload.get("config"), payload.get("state")
    for key, value in (("config", config), ("state", state)):
        if not isinstance(value, dict):
            raise ModelFileError(name, key, f"must be an object, got {_short(value)}; the file needs "
                                 "\"config\" and \"state\" objects")
    assert isinstance(config, dict) and isinstance(state, dict)
    return _SAVABLE[cls_name], config, state


def _oldest() -> int:
    oldest = FORMAT_VERSION
    while oldest - 1 in _UPGRADES:
        oldest -= 1
    return oldest


def _shape(cls: type[Module], config: dict[str, Any]) -> dict[str, Any]:
    """The config without the entries that only steer initialization (seed, init scheme)."""
    return {k: v for k, v in config.items() if k not in cls._init_only}


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not a finite number")


def _config_or_none(model: Module) -> dict[str, Any]:
    try:
        return model.config()
    except NotImplementedError:
        return {}


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = 8


def _short(value: Any) -> str:
    """A repr that stays one readable line, however large the value a file holds."""
    return _REPR.repr(value)


def _show(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in list(config.items())[:12])


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a special file")
