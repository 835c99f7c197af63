"""Run the benchmark suite: one process per workload, then write benchmarks/RESULTS.md.

    python benchmarks/run.py                  # every workload, a few minutes on 2 cores
    python benchmarks/run.py --quick          # the workloads of issue 14's targets, fewer repeats: ~1 min
    python benchmarks/run.py --full           # also chain at 10^7 (this engine), longer runs
    python benchmarks/run.py --only mlp_step  # some workloads (RESULTS.md keeps the others' last figures)

Raw figures go to benchmarks/results.json too. A run without --full carries the last --full run's 10^7
chain over (marked with its date), so RESULTS.md always shows it once it has been measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from workloads import CHAIN_FULL_DEPTH, WORKLOADS  # noqa: E402

ORDER = ["chain", "mlp_step", "fanin", "memory", "digits_epoch", "compiled_step", "fit_digits"]
QUICK = ["mlp_step", "memory", "compiled_step", "fit_digits"]


def run_workload(name: str, full: bool, quick: bool = False) -> dict[str, Any]:
    """Run one workload in a fresh interpreter; its progress streams to stderr, its result is JSON."""
    command = [sys.executable, str(HERE / "workloads.py"), name, *(["--full"] if full else []),
               *(["--quick"] if quick else [])]
    # NumPy's BLAS on one thread, as PyTorch: on a shared 2-core machine a second thread waits for the
    # other core (and NumPy reads this only when it loads)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"workload {name} failed (exit status {done.returncode}); see its output above")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def carry_over_full_chain(chain: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Add the 10^7 chain row of the last --full run to a chain result that has none."""
    deep = f"{CHAIN_FULL_DEPTH:,}"
    if any(r["case"] == deep for r in chain["rows"]) or not previous:
        return
    old = next((r for r in previous.get("chain", {}).get("rows", [])
                if r["engine"] == "chainrule" and r["case"].startswith(deep)), None)
    if old is None:
        return
    when = previous["chain"].get("date", "an earlier run")[:10]
    carried = dict(old, case=f"{deep} (--full run of {when})" if "(" not in old["case"] else old["case"])
    rows = chain["rows"]
    last_ours = max(i for i, r in enumerate(rows) if r["engine"] == "chainrule")
    rows.insert(last_ours + 1, carried)
    chain["checks"]["chain_1e7_completes"] = isinstance(old["values"].get("total_ns"), float)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="include the long cases (chain 10^7)")
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK)}, fewer repeats (about a minute)")
    parser.add_argument("--only", nargs="+", choices=ORDER, metavar="WORKLOAD",
                        help=f"run only these workloads ({', '.join(ORDER)})")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="the markdown to write")
    args = parser.parse_args(argv)
    assert set(ORDER) == set(WORKLOADS)

    raw_path = args.out.with_name("results.json")
    previous: dict[str, Any] = json.loads(raw_path.read_text()) if raw_path.exists() else {}
    results = dict(previous)
    failures = []
    start = time.perf_counter()
    if args.quick and args.full:
        parser.error("--quick and --full contradict each other; pass one")
    command = "python benchmarks/run.py" + (" --full" if args.full else "") + (
        " --quick" if args.quick else "") + (f" --only {' '.join(args.only)}" if args.only else "")
    for name in args.only or (QUICK if args.quick else ORDER):
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            result = run_workload(name, args.full, args.quick)
        except RuntimeError as error:
            failures.append(str(error))
            results.pop(name, None)
            continue
        result["date"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        result["command"] = command
        if name == "chain":
            carry_over_full_chain(result, previous)
        results[name] = result
    ordered = [results[name] for name in ORDER if name in results]
    args.out.write_text(report.render(ordered, failures, command))
    raw_path.write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(report.targets(ordered)))
    print(f"wrote {args.out} and {raw_path} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
