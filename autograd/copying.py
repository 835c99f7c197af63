"""Copying and pickling a graph of any depth without recursion (``Value.__reduce_ex__`` calls ``reduce``).

The default reduction pickles a node's parents inside its own state, recursing once per level: a
100,000-deep chain hit RecursionError in pickle and copy.deepcopy. Here the node that starts a copy lists
every op node above it, parents first, so each one's parents are already copied (memoized) when its own
state is saved: recursion one level deep, at any depth. Nodes are read through their slots only, so this
module imports nothing of the package.
"""

from __future__ import annotations

import threading
from typing import Any


class _Listed(threading.local):
    """The ids of the nodes this thread's copy (or pickle) has listed but not yet reached: they reduce
    to their own state only. An id left behind by a copy that failed part way costs nothing but depth."""

    ids: set[int]

    def __init__(self) -> None:
        self.ids = set()


_listed = _Listed()


def reduce(node: Any, state: tuple[Any, ...]) -> tuple[Any, ...]:
    """``node.__reduce_ex__``'s answer: a blank of its class, then ``state`` (its slots, parents included)."""
    listed = _listed.ids
    if node.x is None or id(node) in listed:
        listed.discard(id(node))
        return (_blank, (type(node),), state)
    ancestors = _ancestors(node)
    listed.update(id(a) for a in ancestors)
    return (_blank_after, (type(node), ancestors), state)


def _blank(cls: type) -> Any:
    return object.__new__(cls)


def _blank_after(cls: type, ancestors: list[Any]) -> Any:
    return object.__new__(cls)  # the ancestors, copied first, are linked in by the state's parents


def _ancestors(root: Any) -> list[Any]:
    """Every op node above root (root excluded), parents before children: the order a copy needs."""
    order: list[Any] = []
    seen = {id(root)}
    stack: list[tuple[Any, bool]] = [(p, False) for p in reversed(root.parents)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen or node.x is None:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node.parents) if id(p) not in seen)
    return order
