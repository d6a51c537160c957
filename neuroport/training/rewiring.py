"""DEEP R rewiring (Bellec, Kappel, Maass, Legenstein 2018, "Deep rewiring: training very sparse deep networks")
for the float e-prop trainer, as used with e-prop in Bellec et al. 2020 and Hajek's thesis (10 % connectivity).

Every potential synapse ji of a rewired projection has a sign s_ji ∈ {−1, +1}, fixed for the whole training, and a
parameter θ_ji.  It is *active* (in the projection's mask) or *dormant*; its weight is

    w_ji = s_ji θ_ji   (active, θ_ji ≥ 0),        w_ji = 0   (dormant).

One training iteration, for the active synapses of each rewired projection:

    θ ← θ − η_t m/(√v + ε) · s        the optimizer's step on ∂E/∂w (Adam or SGD, exactly as without rewiring)
    θ ← θ − η α_L1 + sqrt(2 η T) ν,   ν ~ N(0, 1)   (L1 prior and exploration noise; η: the optimizer's
                                                    learning rate, α_L1 = ``l1``, T = ``temperature``)
    θ < 0  →  dormant (w = 0)
    then as many synapses as just became dormant are drawn uniformly, without replacement, among all dormant
    potential synapses of the projection (the just-retired ones included) and activated with θ = 0,

so every projection keeps exactly its initial number of synapses.  Since s² = 1 and Adam acts elementwise,
Adam on ∂E/∂θ = s ∂E/∂w moves θ by s times the step it would give w: the gradient part is the plain e-prop update
of the active weights, and a synapse retires exactly when that update (plus prior and noise) would flip its sign.
Choices (the published TensorFlow code's, where it has one):

- The prior and the noise use the raw learning rate η, outside Adam (``deep_rewiring`` and the LSNN code add them
  to θ after the optimizer step); only the gradient goes through Adam.
- Dormant synapses get no gradient (e-prop sees them as absent), so their Adam moments decay as with a zero
  gradient and are kept on reactivation, as in TensorFlow's Adam over all θ.
- A reactivated synapse starts at θ = 0 (the published code uses 10⁻¹² with retirement at θ ≤ 0; we retire at
  θ < 0 instead, the same rule without a weight below any fixed-point resolution).
- Signs: s = sign(w) of the initial active synapses; dormant synapses (and active ones with w = 0) get a random
  sign from ``seed``.  Only the mask and the weights are saved, so a model trained again from a saved file draws
  new signs for its dormant synapses.
- ``self_connections: false``: i → i is never activated in a projection whose source and target are the same.

Weights stay clipped to [weight_min, weight_max] as without rewiring.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from neuroport.errors import ModelError
from neuroport.ir.float_graph import FloatGraph, Projection
from neuroport.ir.learning_rule import EpropRule, Rewiring
from neuroport.ir.network import MATRICES, Network, projection_blocks


@dataclass(frozen=True)
class Pool:
    """One rewired projection in assembled coordinates: ``index`` are the flat indices of its potential synapses
    in the assembled matrix ``matrix`` (w_in, w_rec or w_out)."""

    projection: str
    matrix: str
    index: np.ndarray


@dataclass(frozen=True)
class RewiringPlan:
    """What :func:`train_on_batches <neuroport.training.eprop.train_on_batches>` needs to rewire a network."""

    config: Rewiring
    pools: tuple[Pool, ...]


def _pieces(graph: FloatGraph, proj: Projection):
    """(matrix name, [(assembled rows, assembled cols, local rows, local cols)]) of a projection's blocks."""
    name, tgt, src = projection_blocks(graph, proj)
    blocks = [(t_slice, s_slice, slice(t0, t0 + t_slice.stop - t_slice.start), slice(s0, s0 + s_slice.stop - s_slice.start))
              for t_slice, t0 in tgt for s_slice, s0 in src]
    return name, blocks


def matrix_shapes(graph: FloatGraph) -> dict[str, tuple[int, int]]:
    n_in, n_rec, n_out = graph.input.size, graph.n_recurrent, graph.readout.size
    return {"w_in": (n_rec, n_in), "w_rec": (n_rec, n_rec), "w_out": (n_out, n_rec)}


def rewiring_plan(graph: FloatGraph) -> RewiringPlan | None:
    """The pools of ``graph``'s ``learning.rewiring`` (None without one).  A projection's potential synapses are
    its whole block, less i → i when ``self_connections`` is false and source == target (kept where the initial
    mask has them)."""
    config = None if graph.learning is None else graph.learning.rewiring
    if config is None:
        return None
    shapes, pools = matrix_shapes(graph), []
    for proj in (p for p in graph.projections if p.name in config.projections):
        local = np.ones(proj.weights.shape, dtype=bool)
        if not config.self_connections and proj.source == proj.target:
            np.fill_diagonal(local, False)
        local |= proj.mask
        name, blocks = _pieces(graph, proj)
        potential = np.zeros(shapes[name], dtype=bool)
        for rows, cols, local_rows, local_cols in blocks:
            potential[rows, cols] = local[local_rows, local_cols]
        pools.append(Pool(proj.name, name, np.flatnonzero(potential)))
    return RewiringPlan(config, tuple(pools))


def deep_r_step(theta: np.ndarray, active: np.ndarray, *, learning_rate: float, l1: float, temperature: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Prior, noise, retirement and reactivation on one pool's potential synapses (1-D arrays).

    ``theta``: θ after the optimizer's step (active entries; dormant ones are ignored); ``active``: the mask.
    Returns the new (θ, active): θ ← θ − η α_L1 + sqrt(2 η T) ν on the active entries; θ < 0 retires; as many
    dormant entries, drawn uniformly without replacement, become active with θ = 0; dormant θ are 0.
    """
    theta = np.where(active, theta, 0.0)
    drift = learning_rate * l1
    if temperature > 0:
        theta[active] += np.sqrt(2.0 * learning_rate * temperature) * rng.standard_normal(int(active.sum()))
    theta[active] -= drift
    retired = active & (theta < 0)
    new_active = active & ~retired
    chosen = rng.choice(np.flatnonzero(~new_active), size=int(retired.sum()), replace=False)
    new_active[chosen] = True
    theta = np.where(new_active, theta, 0.0)
    theta[chosen] = 0.0
    return theta, new_active


def initial_signs(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """s = sign(w) where w ≠ 0, a random ±1 elsewhere (dormant synapses, zero weights)."""
    random = np.where(rng.random(weights.shape) < 0.5, -1.0, 1.0)
    return np.where(weights != 0, np.sign(weights), random)


@dataclass
class RewiringState:
    """The training loop's DEEP R state: signs and current masks of the assembled matrices."""

    plan: RewiringPlan
    rule: EpropRule
    signs: dict[str, np.ndarray]
    active: dict[str, np.ndarray]
    plastic_region: dict[str, np.ndarray]
    rng: np.random.Generator
    rewired: list[int] = field(default_factory=list)  # synapses newly activated per iteration (all pools)

    def masks(self) -> dict[str, np.ndarray]:
        """The ``*_mask`` and ``*_plastic`` fields of the Network for the current connectivity."""
        out = {f"{m}_mask": a for m, a in self.active.items()}
        out.update({f"{m}_plastic": a & self.plastic_region[m] for m, a in self.active.items()})
        return out

    def step(self, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Apply :func:`deep_r_step` to every pool of weights after the optimizer's step; returns new weights."""
        weights = {k: w.copy() for k, w in weights.items()}
        self.active = {m: a.copy() for m, a in self.active.items()}  # networks built earlier keep their masks
        config, n_new = self.plan.config, 0
        learning_rate = self.rule.optimizer.learning_rate_at(len(self.rewired))  # η_k of the step just taken
        for pool in self.plan.pools:
            w, sign, active = weights[pool.matrix].ravel(), self.signs[pool.matrix].ravel(), self.active[pool.matrix].ravel()
            before = active[pool.index]
            theta, now = deep_r_step(sign[pool.index] * w[pool.index], before, learning_rate=learning_rate,
                                     l1=config.l1, temperature=config.temperature, rng=self.rng)
            n_new += int(np.count_nonzero(now & ~before))
            active[pool.index] = now
            w[pool.index] = np.clip(sign[pool.index] * theta, self.rule.weight_min, self.rule.weight_max) * now
        self.rewired.append(n_new)
        return weights


def start_rewiring(net: Network, rule: EpropRule, plan: RewiringPlan | None) -> RewiringState | None:
    """The DEEP R state for a training run (None without ``learning.rewiring``)."""
    if rule.rewiring is None:
        return None
    if plan is None:
        raise ModelError("rewiring (DEEP R) is implemented in neuroport's float e-prop trainer for LIF/ALIF networks "
                         "only (neuroport train --engine numpy); this trainer (BPTT, Izhikevich) does not rewire",
                         path="learning.rewiring")
    rng = np.random.default_rng([rule.rewiring.seed, 0xDEE9])
    matrices = sorted({pool.matrix for pool in plan.pools}, key=MATRICES.index)
    region = {}
    for m in matrices:
        region[m] = getattr(net, f"{m}_plastic").copy()
        for pool in (p for p in plan.pools if p.matrix == m):
            region[m].ravel()[pool.index] = True
    return RewiringState(plan, rule, signs={m: initial_signs(getattr(net, m), rng) for m in matrices},
                         active={m: getattr(net, f"{m}_mask").copy() for m in matrices}, plastic_region=region, rng=rng)


def with_masks(graph: FloatGraph, masks: dict[str, np.ndarray]) -> FloatGraph:
    """``graph`` with the masks of its rewired projections taken from assembled masks (matrix name → bool)."""
    config = graph.learning.rewiring
    new = []
    for proj in graph.projections:
        if proj.name in config.projections:
            name, blocks = _pieces(graph, proj)
            local = np.zeros(proj.weights.shape, dtype=bool)
            for rows, cols, local_rows, local_cols in blocks:
                local[local_rows, local_cols] = masks[name][rows, cols]
            proj = replace(proj, mask=local, weights=np.where(local, proj.weights, 0.0))
        new.append(proj)
    return graph.with_projections(tuple(new))
