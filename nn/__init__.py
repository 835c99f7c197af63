"""chainrule's nn: neurons, layers and MLPs, losses, optimizers, data and training on the autograd engine."""
