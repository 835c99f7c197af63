"""The conformance suite's report: one named result per check, a table to read, and an error to raise."""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field

PASS, FAIL, UNSUPPORTED = "pass", "fail", "unsupported"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome. ``status`` is ``"pass"``, ``"fail"`` or ``"unsupported"`` (the engine lacks
    what the check needs); ``detail`` says what was found; a failure's ``example`` is the smallest
    counterexample found, as code in the engine's own API with the expected and actual numbers."""

    name: str
    status: str
    detail: str
    example: str | None = None

    def __str__(self) -> str:
        text = f"{self.name}: {self.status}: {self.detail}"
        return text + "\n" + textwrap.indent(self.example, "    ") if self.example else text


class EngineCheckError(AssertionError):
    """A check of ``check_engine`` failed (an AssertionError, so pytest reports a test failure)."""


@dataclass
class EngineReport:
    """What ``check_engine`` found: ``results`` in the order the checks ran, ``ok`` when none failed.

    ``str(report)`` is a table; ``report.examples()`` the failures with their counterexamples;
    ``report["reuse"]`` one result by name; ``raise_if_failed()`` raises ``EngineCheckError``.
    """

    engine: str
    results: list[CheckResult] = field(default_factory=list)
    max_examples: int = 0
    seed: int = 0
    depth: int = 0

    @property
    def ok(self) -> bool:
        """True when no check failed (unsupported ones do not count against the engine)."""
        return not self.failures

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    def __getitem__(self, name: str) -> CheckResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no check named {name!r}; the checks are {[r.name for r in self.results]}")

    def summary(self) -> str:
        counts = Counter(r.status for r in self.results)
        return (f"{self.engine}: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[UNSUPPORTED]} "
                f"unsupported (max_examples={self.max_examples}, seed={self.seed}, depth={self.depth:,})")

    def __str__(self) -> str:
        width = max([len("check"), *(len(r.name) for r in self.results)])
        rows = [f"  {'check':<{width}}  {'status':<11}  detail"]
        for r in self.results:
            status = "FAIL" if r.status == FAIL else r.status
            rows.append(f"  {r.name:<{width}}  {status:<11}  {r.detail}")
        return "\n".join([self.summary(), *rows])

    def __repr__(self) -> str:
        return f"<EngineReport {self.summary()}>"

    def examples(self) -> str:
        """Each failed check with its detail and its counterexample (code to paste and run)."""
        return "\n\n".join(str(r) for r in self.failures)

    def raise_if_failed(self) -> None:
        """Raise ``EngineCheckError`` (an AssertionError) with the table and examples if a check failed."""
        if not self.ok:
            raise EngineCheckError(f"{len(self.failures)} of {len(self.results)} checks failed\n{self}\n\n"
                                   f"{self.examples()}")
