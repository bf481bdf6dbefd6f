"""The production Neuron: z = X·w + b, an activation, J = ½Σ(a − y)², gradient descent."""

from neuron.activations import ACTIVATIONS, Activation, get_activation
from neuron.neuron import Neuron

__all__ = ["ACTIVATIONS", "Activation", "Neuron", "get_activation"]
