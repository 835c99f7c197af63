"""chainrule's autograd: a scalar reverse-mode autograd engine (the public API, nothing else)."""

from .backprop import detect_anomaly, gradients, is_anomaly_enabled, toposort
from .collector import is_gc_hold_enabled, set_gc_hold
from .compile import Bound, CompiledFunction, GuardError, compile
from .functional import grad, hessian, value_and_grad
from .gradcheck import GradcheckError, gradcheck
from .ops import OPS
from .value import Constant, Value, is_grad_enabled, linear, no_grad
from .viz import BackwardStep, Contribution, Stepper, backward_steps, draw_graph, explain, step_through

__all__ = [
    "OPS",
    "Stepper",
    "BackwardStep",
    "Bound",
    "Constant",
    "CompiledFunction",
    "Contribution",
    "GradcheckError",
    "GuardError",
    "Value",
    "backward_steps",
    "compile",
    "detect_anomaly",
    "draw_graph",
    "explain",
    "grad",
    "gradcheck",
    "gradients",
    "hessian",
    "is_anomaly_enabled",
    "is_gc_hold_enabled",
    "is_grad_enabled",
    "linear",
    "no_grad",
    "set_gc_hold",
    "step_through",
    "toposort",
    "value_and_grad",
]
