"""Standalone PyNN script for sPyNNaker, copied into every spinnaker artifact as ``run_pynn.py``.

It needs only numpy and sPyNNaker (``pip install 'neuroport[spinnaker]'``), not neuroport:

    python run_pynn.py ARTIFACT_DIR OUT_DIR

reads ``network.json`` + ``network.npz`` (the lowered network) and ``inputs.json`` (spike times per sample) from
ARTIFACT_DIR, builds the populations and the excitatory/inhibitory projections with ``FromListConnector``, runs
each sample (``sim.reset()`` between them), and writes into OUT_DIR ``weights.npz`` (every projection's
``Projection.get(["weight"], format="array")``: the weights as the board stores them), ``parameters.npz`` (the
S1615/int words of every neuron parameter and initial state sPyNNaker's structs pack: ``LABEL.FIELD``), ``recorded.npz`` (spikes
and readout ``v``; empty on a virtual board) and ``result.json``.  The machine comes from ``~/.spynnaker.cfg``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _cells(sim, spec: dict, arrays: dict, spike_times: list) -> object:
    makers = {
        "SpikeSourceArray": lambda: sim.SpikeSourceArray(spike_times=spike_times),
        "IF_curr_delta": lambda: sim.IF_curr_delta(**{k: arrays[f"{spec['label']}.{k}"] for k in spec["parameters"]}),
        # sPyNNaker's IF_curr_delta_ca2_adaptive (extra_models.IFCurrDeltaCa2Adaptive)
        "IF_curr_delta_ca2_adaptive": lambda: sim.extra_models.IFCurrDeltaCa2Adaptive(
            **{k: arrays[f"{spec['label']}.{k}"] for k in spec["parameters"]}),
        # sPyNNaker's IZK_curr_exp (IzkCurrExpBase) is PyNN's ``Izhikevich`` in pyNN.spiNNaker
        "IZK_curr_exp": lambda: sim.Izhikevich(**{k: arrays[f"{spec['label']}.{k}"] for k in spec["parameters"]}),
    }
    return makers[spec["model"]]()


def build(sim, net: dict, arrays: dict, spike_times: list) -> tuple[dict, dict]:
    """Populations and projections of the network on ``sim`` (pyNN.spiNNaker)."""
    pops = {}
    for spec in net["populations"]:
        extra = {k: spec[k] for k in ("max_expected_summed_weight", "neurons_per_core") if spec.get(k) is not None}
        pop = sim.Population(spec["size"], _cells(sim, spec, arrays, spike_times), label=spec["label"],
                             additional_parameters=extra or None)
        if spec["record"]:
            pop.record(spec["record"])
        pops[spec["label"]] = pop
    projections = {}
    for spec in net["projections"]:
        connector = sim.FromListConnector(arrays[f"{spec['label']}.connections"])
        projections[spec["label"]] = sim.Projection(pops[spec["pre"]], pops[spec["post"]], connector,
                                                    receptor_type=spec["receptor"], label=spec["label"])
    return pops, projections


def stored_parameters(pops: dict, net: dict) -> dict:
    """The words sPyNNaker packs into each neuron population's parameter region: every field of the cell's structs
    (``neuron_impl.structs``, Struct.get_data over the population's parameters and state variables), int64."""
    from pacman.model.graphs.common import Slice
    from spynnaker.pyNN.utilities.struct import StructRepeat

    out = {}
    for spec in net["populations"]:
        if spec["model"] == "SpikeSourceArray":
            continue
        vertex = pops[spec["label"]]._vertex
        values = {k: vertex.parameters[k] for k in vertex.parameters.keys()}
        values.update({k: vertex.state_variables[k] for k in vertex.state_variables.keys()})
        for struct in (s for s in vertex.neuron_impl.structs if s.fields):
            per_neuron = struct.repeat_type != StructRepeat.GLOBAL
            data = struct.get_data(values, Slice(0, spec["size"] - 1)) if per_neuron else struct.get_data(values)
            n_items = spec["size"] if per_neuron else 1
            words = np.frombuffer(data.tobytes()[: n_items * struct.numpy_dtype.itemsize], dtype=struct.numpy_dtype)
            out.update({f"{spec['label']}.{name}": words[name].astype(np.int64) for _, name in struct.fields})
    return out


def _recorded(pops: dict, net: dict) -> dict:
    out = {}
    for spec in net["populations"]:
        block = pops[spec["label"]].get_data(spec["record"], clear=True).segments[0] if spec["record"] else None
        if block is None:
            continue
        for train in block.spiketrains:
            out[f"{spec['label']}.spikes.{train.annotations.get('source_index', 0)}"] = np.asarray(train.magnitude)
        for signal in block.analogsignals:
            out[f"{spec['label']}.{signal.name}"] = np.asarray(signal.magnitude)
    return out


def main(artifact: str, out_dir: str) -> None:
    import pyNN.spiNNaker as sim

    folder, out = Path(artifact), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    net = json.loads((folder / "network.json").read_text())
    inputs = json.loads((folder / "inputs.json").read_text())
    with np.load(folder / "network.npz") as data:
        arrays = {k: data[k] for k in data.files}
    sim.setup(timestep=net["timestep_ms"])
    pops, projections = build(sim, net, arrays, inputs["samples"][0])
    np.savez(out / "parameters.npz", **stored_parameters(pops, net))  # the words written at load
    recorded = {}
    for index, sample in enumerate(inputs["samples"]):
        if index:
            sim.reset()
            pops[net["input_label"]].set(spike_times=sample)
        sim.run(inputs["n_steps"] * net["timestep_ms"])
        recorded.update({f"sample{index}.{k}": v for k, v in _recorded(pops, net).items()})
    weights = {k: np.asarray(p.get(["weight"], format="array"), dtype=np.float64) for k, p in projections.items()}
    sim.end()
    np.savez(out / "weights.npz", **weights)
    np.savez(out / "recorded.npz", **recorded)
    (out / "result.json").write_text(json.dumps({"samples": len(inputs["samples"]), "recorded": sorted(recorded)}, allow_nan=False))


if __name__ == "__main__":
    main(*sys.argv[1:3])
