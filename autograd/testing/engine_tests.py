"""EngineTests: the conformance suite as a pytest class, one test per check, for an engine's own repo."""

from __future__ import annotations

import inspect
import unittest
from collections.abc import Callable
from typing import Any

from .conformance import CHECKS, run_check
from .report import FAIL, UNSUPPORTED, EngineCheckError


class EngineTests:
    """Subclass it in a test file, name your engine, and pytest runs one test per check of
    ``check_engine`` (``test_op_add``, ..., ``test_reuse``, ``test_deep_chain``, ...)::

        from autograd.testing import EngineTests
        from myengine import Value

        class TestMyEngine(EngineTests):
            engine = Value

    A failed check fails its test with the counterexample; an unsupported one (an op the engine lacks) is
    skipped with the reason. ``max_examples``, ``seed`` and ``depth`` are ``check_engine``'s.
    """

    engine: Any = None  # a Value class with micrograd's API, an Engine, or a function that returns one
    max_examples: int = 200
    seed: int = 0
    depth: int = 100_000

    def _run(self, name: str) -> None:
        __tracebackhide__ = True  # pytest shows the failure, not this frame
        # NOTE: read without binding: a function assigned to `engine` (torch_engine) would otherwise
        # become a method of the test class.
        engine = inspect.getattr_static(type(self), "engine")
        if isinstance(engine, staticmethod):
            engine = engine.__func__
        if engine is None:
            raise TypeError(f"{type(self).__name__}: set `engine = YourValueClass` (or an Engine) in it")
        result = run_check(engine, name, max_examples=self.max_examples, seed=self.seed, depth=self.depth)
        if result.status == UNSUPPORTED:
            reason = f"{name} unsupported: {result.detail}"
            try:
                import pytest
            except ImportError:  # another runner: unittest's skip, which pytest understands too
                raise unittest.SkipTest(reason) from None
            pytest.skip(reason)
        if result.status == FAIL:
            raise EngineCheckError(f"{name}: {result.detail}\n\n{result.example or ''}".rstrip())


def _test(name: str) -> Callable[[EngineTests], None]:
    def test(self: EngineTests) -> None:
        __tracebackhide__ = True
        self._run(name)

    test.__name__ = test.__qualname__ = f"test_{name}"
    test.__doc__ = f"check_engine's {name} check"
    return test


for _name in CHECKS:
    setattr(EngineTests, f"test_{_name}", _test(_name))
