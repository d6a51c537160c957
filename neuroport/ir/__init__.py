"""The float IR (FloatGraph), its loader and checks, and the dense Network view."""

from neuroport.ir.float_graph import ALIF, LIF, FloatGraph, InputLayer, Projection, Readout, Surrogate, TaskSpec
from neuroport.ir.learning_rule import EpropRule, Optimizer
from neuroport.ir.loader import load_model
from neuroport.ir.network import Network, assemble, with_weights

__all__ = [
    "ALIF", "LIF", "EpropRule", "FloatGraph", "InputLayer", "Optimizer", "Projection", "Readout", "Surrogate",
    "TaskSpec", "load_model", "Network", "assemble", "with_weights",
]
