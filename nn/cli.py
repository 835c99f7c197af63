"""The `chainrule` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from autograd import Value


def demo(out: str) -> int:
    """A neuron's forward and backward pass, printed with every node's value and gradient."""
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2, b = Value(-3.0, "w1"), Value(1.0, "w2"), Value(6.8813735870195432, "b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    for v in (o, n, b, w1, w2, x1, x2):
        print(f"{v.label:>3}: data={v.data:+.4f}  grad={v.grad:+.4f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainrule", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="the main job on the built-in default")
    p_demo.add_argument("--out", default="out", help="directory for outputs (default: out)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.out)
    return 2


if __name__ == "__main__":
    sys.exit(main())
