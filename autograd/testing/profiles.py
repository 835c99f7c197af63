"""Hypothesis profiles shared by this project's tests and yours: ci, dev and thorough."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

#: ci: derandomized and without deadlines (2 busy cores), sized so the whole suite takes a few minutes;
#: dev: Hypothesis' defaults without deadlines; thorough: at least 100,000 examples per test, by hand.
PROFILES: dict[str, dict[str, Any]] = {
    "ci": dict(max_examples=100, derandomize=True, deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow]),
    "dev": dict(max_examples=100, deadline=None),
    "thorough": dict(max_examples=100_000, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
}


def register_profiles() -> None:
    """Register the ``ci``, ``dev`` and ``thorough`` profiles with Hypothesis."""
    for name, options in PROFILES.items():
        settings.register_profile(name, **options)


def load_profile(name: str | None = None) -> str:
    """Register the profiles and load one: ``name``, else ``$HYPOTHESIS_PROFILE``, else ``ci`` when
    ``$CI`` is set, else ``dev``. Returns the name loaded. Call it from a ``conftest.py``."""
    register_profiles()
    chosen = name or os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    if chosen not in PROFILES:
        raise ValueError(f"unknown Hypothesis profile {chosen!r}; choose one of {sorted(PROFILES)}")
    settings.load_profile(chosen)
    return chosen
