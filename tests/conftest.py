"""Shared test set-up: the import path, and the Hypothesis profile chosen by $HYPOTHESIS_PROFILE.

Without $HYPOTHESIS_PROFILE the profile is ``ci`` when $CI is set and ``dev`` otherwise; the profiles
themselves live in ``autograd.testing.PROFILES`` so users of autograd.testing can load the same ones.
"""

import sys
from pathlib import Path

# NOTE: pytest puts this directory on sys.path, where tests/autograd and tests/nn (no __init__.py)
# would be imported as empty namespace packages named `autograd` and `nn` ("cannot import name 'OPS'
# from 'autograd' (unknown location)"): the editable install's finder is consulted only after
# sys.path. With the repository root on sys.path, the real packages win.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograd.testing import load_profile  # noqa: E402 - needs the path set above

load_profile()


# In CI a skip is a failure: `make test` installs every tool the suite needs (dot, chromium, torch,
# micrograd), so a skip there means a missing install step that would hide untested code.
_skipped: list[str] = []


def _note_skip(report):  # type: ignore[no-untyped-def]
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
    _skipped.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report):  # type: ignore[no-untyped-def]
    if report.skipped and not hasattr(report, "wasxfail"):
        _note_skip(report)


def pytest_collectreport(report):  # type: ignore[no-untyped-def]
    if report.skipped:
        _note_skip(report)


def pytest_sessionfinish(session, exitstatus):  # type: ignore[no-untyped-def]
    import os

    if os.environ.get("CI") and _skipped and exitstatus == 0:
        print("\n\nCI: these tests skipped; in CI every tool they need is installed, so a skip fails:")
        for line in _skipped:
            print(f"  {line}")
        session.exitstatus = 1
