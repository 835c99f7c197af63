"""autograd.compile: trace a scalar function once, then replay it as a flat program, on floats (bit-identical
to eager) or over whole batches with NumPy (a layer's weighted sums as one matrix product).

    program.py        the traced program: slots, instructions, guards, and how it prints
    tracing.py        running f once on Values and recording its graph and guards
    python_replay.py  the scalar replay: generated Python, or the interpreter
    lowering.py       the program regrouped into kernels for the batched replay (pure Python)
    numpy_replay.py   the batched replay: the kernels laid out in arrays and run with NumPy
    function.py       compile, CompiledFunction and Bound: arguments, the trace cache, which replay runs

NumPy is imported by the first batched call, never by ``import autograd``.
"""

from .function import Bound, CompiledFunction, GuardError, compile
from .program import Program

__all__ = ["Bound", "CompiledFunction", "GuardError", "Program", "compile"]
