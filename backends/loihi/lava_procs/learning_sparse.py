"""A fix of Lava's ``LearningSparse`` fixed-point model (lava-nc 0.10.0): learning rules with synaptic-variable
factors, and host writes to sparse Vars whose structure holds explicit zeros.

Two defects of ``PyLearningSparseModelBitApproximate`` stop on-chip e-prop with absent synapses (no autapses):
a product such as ``t*y2`` is evaluated by ``np.clip`` on a scipy CSR matrix, which raises inside the process
("truth value of an array ... is ambiguous"); and ``Var.set`` on a sparse Var rebuilds it from its non-zero
entries only, so a zero tag or weight in the structure makes the write fail.  Either leaves the runtime waiting
for ever.  This model runs Lava's own dense learning arithmetic (``_apply_learning_rules`` of the parent,
unchanged) on dense copies of weights and tags and keeps only the stored synapses — absent synapses stay absent,
as on the chip — and writes sparse Vars over their full structure.  Spikes, traces, random numbers and rounding
are Lava's.  Selected with ``Loihi2SimCfg(exception_proc_model_map={LearningSparse: PyLearningSparseModelFixed})``.
"""

from __future__ import annotations

import numpy as np
from lava.magma.runtime.mgmt_token_enums import MGMT_RESPONSE
from lava.proc.sparse.models import PyLearningSparseModelBitApproximate
from lava.utils.sparse import find
from scipy.sparse import csr_matrix

SYNAPTIC_VARIABLES = ("weights", "tag_1", "tag_2")


class PyLearningSparseModelFixed(PyLearningSparseModelBitApproximate):
    _structure: tuple[np.ndarray, np.ndarray] | None = None

    def _apply_learning_rules(self, x_traces_history: np.ndarray, y_traces_history: np.ndarray) -> None:
        if self._structure is None:  # the synapses, from a tag: Lava's weight truncation drops weights that become 0
            self._structure = find(self.tag_1, explicit_zeros=True)[:2]
        dst, src = self._structure
        shape = self.weights.shape
        for name in SYNAPTIC_VARIABLES:
            setattr(self, name, getattr(self, name).toarray())
        super()._apply_learning_rules(x_traces_history, y_traces_history)
        for name in SYNAPTIC_VARIABLES:
            values = getattr(self, name)[dst, src]
            setattr(self, name, csr_matrix((values, (dst, src)), shape=shape))

    def _set_var(self) -> None:
        """Lava's ``_set_var`` for arrays; for a CSR Var, the values in the order of its full structure."""
        var_name = self.var_id_to_var_map[int(self.service_to_process.recv()[0].item())]
        var = getattr(self, var_name)
        n_items = int(self.service_to_process.recv()[0].item())
        values = np.array([self.service_to_process.recv()[0] for _ in range(n_items)])
        if isinstance(var, csr_matrix):
            dst, src, _ = find(var, explicit_zeros=True)
            setattr(self, var_name, csr_matrix((values.astype(var.dtype), (dst, src)), shape=var.shape))
        elif isinstance(var, np.ndarray):
            var.reshape(-1)[:n_items] = values.astype(var.dtype)
        else:
            setattr(self, var_name, type(var)(values[0].item()))
        self.process_to_service.send(MGMT_RESPONSE.SET_COMPLETE)
