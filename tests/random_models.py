"""Hypothesis strategies for small random neuroport models, for the exactness property (tests/lava/
test_exactness_property.py): model.yaml documents nobody wrote by hand, with spike inputs and learning targets.

What a drawn model can hold, on purpose at the edges of the fixed-point formats (loihi2 config):

    populations   1–2, LIF or ALIF (or, rarely, Izhikevich: all-Izhikevich models run as
                  Loihi's integer Izhikevich program, mixed ones are refused), 1–4 neurons each,
                  per-neuron parameters drawn from the extremes below
    v_th          1e-6 … 30: thresholds six decades below the largest quantize to 0 (v_scale follows the largest)
    τ_m, τ_out    0.05 ms (decay 4095/4096, clipped) … 1e6 ms (decay 0)
    t_ref         0 … 300 ms (n_ref beyond the run)
    τ_a, β        1 ms … 1e6 ms, β 0 … 50 (a saturates at 24 bits)
    weights       gain 0.01 … 1e4 relative to v_th ~ 1 (mantissas clip at the largest exponent, v saturates;
                  a quarter of the inference models get an excitatory 1e4 drive into non-leaking neurons);
                  mixed sign (normal) or single sign (uniform on [0, g] or [−g, 0])
    structure     input (inference) and recurrent projections present or absent; connection probability 1 … 0.01 (a small
                  matrix then often draws no synapse at all); recurrent with or without autapses
    delays        1 … 65 steps (inference; 65 is beyond Lava's DelayDense and must be refused)
    learning      a strong mixed-sign input drive (so that most models spike and learn), random feedback of drawn
                  gain, rule options of neuroport.emulator.onchip.OnChipRule

The first value of each list is the typical one (hypothesis starts from it); the others are the extremes.
Each document is written to a file and read by :func:`neuroport.ir.load_model`, like a user's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from hypothesis import strategies as st

from neuroport.tasks import Batch

KINDS = ("lif", "alif") * 4 + ("izhikevich",)
V_TH = (0.6, 1.0, 0.05, 7.0, 1e-6, 30.0, 1e-4)
TAU_MS = (20.0, 5.0, 1.0, 0.05, 1e6)
T_REF_MS = (0.0, 1.0, 3.0, 0.0, 300.0)
TAU_A_MS = (200.0, 1.0, 1e6)
BETA = (0.05, 0.0, 1.7, 50.0)
GAIN = (1.0, 1e4, 5.0, 0.3, 100.0, 0.01)
PROBABILITY = (1.0, 0.6, 0.3, 1.0, 0.05, 0.01)
DELAY_STEPS = (1, 2, 1, 7, 1, 64, 3, 1, 2, 1, 65)
PRESENT = (True, True, True, False)  # whether an input or recurrent projection exists
SATURATING = (False, False, True, False)  # inference: whether the model's input drive saturates v
SATURATING_DRIVE = "saturating drive"  # the description of such a model (it is then quantized uncalibrated)
RULE_OPTIONS = (  # on-chip rule overrides: fast rates so that a few short sequences move the weights
    {"w_exponent": -5, "out_exponent": -5},
    {"w_exponent": -3, "out_exponent": -3, "hidden_impulse": 100, "out_impulse": 100},
    {"w_exponent": -5, "out_exponent": -5, "hidden_impulse": 48, "l_shift": 4, "error": "softmax", "decimate": 1,
     "tag_exponent": -4, "tag_decay": (-3, -2), "out_impulse": 8, "out_err_shift": 1, "out_decimate": 1,
     "reg_target": 328, "reg_shift": 4, "reg_window": True, "alif_impulse": 2, "alif_tau": 2000, "alif_scale": (-1, -6)},
)


def per_neuron(draw, values: tuple, size: int) -> list[float]:
    return [float(v) for v in draw(st.lists(st.sampled_from(values), min_size=size, max_size=size))]


@st.composite
def population(draw, index: int, kinds: tuple[str, ...]) -> dict:
    size = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(kinds))
    if kind == "izhikevich":  # default parameters: Loihi's integer program, or refused when mixed with LIF
        return {"name": f"p{index}", "model": kind, "size": size}
    doc = {"name": f"p{index}", "model": kind, "size": size, "tau_m_ms": per_neuron(draw, TAU_MS, size),
           "v_th": per_neuron(draw, V_TH, size), "t_ref_ms": per_neuron(draw, T_REF_MS, size)}
    if kind == "alif":
        doc.update(tau_a_ms=per_neuron(draw, TAU_A_MS, size), beta=per_neuron(draw, BETA, size))
    return doc


@st.composite
def initializer(draw) -> dict:
    gain = draw(st.sampled_from(GAIN))
    sign = draw(st.sampled_from(("mixed", "mixed", "excitatory", "inhibitory")))
    if sign == "mixed":
        return {"distribution": "normal", "gain": gain}
    return {"distribution": "uniform", "low": 0.0 if sign == "excitatory" else -gain,
            "high": gain if sign == "excitatory" else 0.0}


@st.composite
def projection(draw, name: str, source, target, delays: bool) -> dict:
    doc = {"name": name, "source": source, "target": target, "init": draw(initializer()),
           "connection_probability": draw(st.sampled_from(PROBABILITY))}
    if name == "rec":
        doc["zero_diagonal"] = draw(st.booleans())
    if delays:
        doc["delay_steps"] = draw(st.sampled_from(DELAY_STEPS))
    return doc


@st.composite
def model_doc(draw, learning: bool) -> dict:
    """A model.yaml document (see the module docstring); ``learning`` adds a ``learning`` section and keeps
    every synapse undelayed (on-chip learning refuses delays)."""
    kinds = KINDS[:2] if learning else KINDS
    pops = [draw(population(i, kinds)) for i in range(draw(st.integers(1, 2)))]
    description = ""
    names = [p["name"] for p in pops]
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    projections = []
    if learning:  # a strong mixed-sign drive, so that most learning models spike
        projections.append({"name": "input", "source": "in", "target": names, "init": {
            "distribution": "normal", "gain": draw(st.sampled_from((5.0, 100.0)))}})
    elif draw(st.sampled_from(SATURATING)):  # v saturates: 1e4 excitatory drive, no leak, no calibration
        pops[0]["tau_m_ms"] = [1e6] * pops[0]["size"]
        description = SATURATING_DRIVE
        projections.append({"name": "input", "source": "in", "target": names,
                            "init": {"distribution": "uniform", "low": 0.0, "high": 1e4}})
    elif draw(st.sampled_from(PRESENT)):
        projections.append(draw(projection("input", "in", names, delays=True)))
    if draw(st.sampled_from(PRESENT)):
        projections.append(draw(projection("rec", names, names, delays=not learning)))
    projections.append(draw(projection("out", names, "out", delays=not learning)))
    doc = {"neuroport": 1, "name": "random", "dt_ms": 1.0, "seed": draw(st.integers(0, 2**16)),
           "input": {"name": "in", "size": n_in}, "populations": pops,
           "readout": {"name": "out", "size": n_out, "tau_out_ms": draw(st.sampled_from(TAU_MS)),
                       "loss": draw(st.sampled_from(("mse", "cross_entropy")))},
           "projections": projections, "description": description}
    if learning:
        doc["learning"] = {"feedback": "random",
                           "feedback_init": {"distribution": "normal", "gain": draw(st.sampled_from((0.3, 1.0, 4.0)))}}
    return doc


@dataclass(frozen=True)
class Case:
    """A drawn model document and the data it is run on."""

    doc: dict
    inputs: np.ndarray  # (samples, n_steps, n_in) 0/1
    targets: np.ndarray  # (samples, n_steps, n_out) floats in [−1, 1] (learning)
    loss_mask: np.ndarray  # (samples, n_steps) bool (learning)
    calibrate: bool  # inference: v_scale from float runs on the inputs, else from the thresholds
    rates: dict  # learning: the on-chip rule's overrides (RULE_OPTIONS)

    def write(self, folder: Path) -> Path:
        path = Path(folder) / "model.yaml"
        path.write_text(yaml.safe_dump(self.doc, sort_keys=False))
        return path

    def batch(self) -> Batch:
        return Batch(inputs=self.inputs, targets=self.targets, loss_mask=self.loss_mask)


@st.composite
def cases(draw, learning: bool = False) -> Case:
    """A :class:`Case`: the model, then seeded spike inputs of drawn density (and targets, a loss window)."""
    doc = draw(model_doc(learning))
    samples = draw(st.integers(2, 3)) if learning else draw(st.integers(1, 2))
    n_steps = draw(st.integers(20, 40) if learning else st.integers(16, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from((0.5, 0.9) if learning else (0.3, 0.9, 0.05)))
    shape = (samples, n_steps, doc["input"]["size"])
    inputs = (rng.random(shape) < density).astype(np.uint8)
    targets = rng.uniform(-1, 1, (samples, n_steps, doc["readout"]["size"]))
    loss_mask = np.zeros((samples, n_steps), bool)
    loss_mask[:, draw(st.integers(0, n_steps - 1)):] = True
    calibrate = draw(st.booleans()) and doc["description"] != SATURATING_DRIVE
    return Case(doc=doc, inputs=inputs, targets=targets, loss_mask=loss_mask, calibrate=calibrate,
                rates=draw(st.sampled_from(RULE_OPTIONS)) if learning else {})
