"""chainrule's nn: neurons, layers and MLPs, losses, optimizers, data and training on the autograd engine."""

from . import data, interop, losses, optim, plot, serialization
from .layers import MLP, BatchNorm1d, Layer, Neuron
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    log_softmax,
    mse,
    softmax,
)
from .module import Module
from .optim import SGD, Adam, AdamW, clip_grad_norm
from .serialization import ModelFileError, load, save
from .train import Evaluation, History, evaluate, fit, layer_grad_norms, predict

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "BatchNorm1d",
    "Evaluation",
    "History",
    "Layer",
    "ModelFileError",
    "Module",
    "Neuron",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "clip_grad_norm",
    "cross_entropy",
    "data",
    "evaluate",
    "fit",
    "hinge",
    "interop",
    "layer_grad_norms",
    "load",
    "log_softmax",
    "losses",
    "mse",
    "optim",
    "plot",
    "predict",
    "save",
    "serialization",
    "softmax",
]
