"""The ``spinnaker`` target (sPyNNaker via PyNN); pyNN and spynnaker are imported only in the run subprocess."""

from .backend import SpiNNakerBackend

__all__ = ["SpiNNakerBackend"]
