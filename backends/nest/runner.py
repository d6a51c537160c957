"""Run e-prop training in NEST 3.10 from a lowered spec (see :mod:`.lower`), in its own process.

    python -m neuroport.backends.nest.runner SPEC.npz OUT.npz
    mpirun -np R python -m neuroport.backends.nest.runner SPEC.npz OUT.npz     (a NEST built with MPI)

NEST keeps one global kernel per process, so neuroport never imports it into the caller: the spec goes in as
an ``.npz`` of plain arrays, and the readout signals, targets and final weights come back the same way.  Under MPI
each rank holds a share of the neurons and, of the synapses, those whose target it holds; it writes what it holds
to ``OUT.npz.rankR.npz`` (raw recorder events, weight matrices zero where another rank holds the synapse), and
:func:`merge_ranks` + :func:`assemble` put the ranks' shares together into the same OUT arrays one process gives.

The network is built as NEST's own e-prop examples build it (``eprop_supervised_*_bsshslm_2020.py``):
spike generators → parrot neurons → ``eprop_iaf(_adapt)_bsshslm_2020`` → ``eprop_readout_bsshslm_2020``, all
e-prop synapses with a one-step delay, the error sent back through ``eprop_learning_signal_connection_bsshslm_2020``
(weights B), targets through ``step_rate_generator`` → ``rate_connection_delayed``, and for cross-entropy the
readouts' normalization through ``rate_connection_delayed`` between readouts.  The timing follows the examples:
sequence step s of sample b is generator time 1 + b·T + s, so that it reaches the recurrent neurons in step s
of update interval b (NEST's hard-coded ``offset_gen`` and ``delay_in_rec`` of one step each).  After the last
sequence every presynaptic neuron is forced to spike once more, so that every synapse applies its last update
(NEST updates lazily, when a spike passes).
"""

from __future__ import annotations

import json
import sys

import numpy as np

OFFSET_GEN, DELAY_IN_REC, DELAY_REC_OUT, DELAY_OUT_NORM = 1, 1, 1, 1  # NEST's hard-coded e-prop offsets (steps)
TOTAL_OFFSET = OFFSET_GEN + DELAY_IN_REC + DELAY_REC_OUT + DELAY_OUT_NORM
MODELS = ("eprop_iaf_bsshslm_2020", "eprop_iaf_adapt_bsshslm_2020")  # recurrent neuron models: LIF, ALIF


def neuron_params(meta: dict, spec: dict, j: int) -> dict:
    """NEST parameters of recurrent neuron ``j`` (voltages relative to E_L = 0, C_m = 1)."""
    p = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "V_m": 0.0,
         "regular_spike_arrival": bool(spec["regular_spike_arrival"][j]),
         "tau_m": float(spec["tau_m_ms"][j]), "V_th": float(spec["v_th"][j]), "t_ref": float(spec["t_ref_ms"][j]),
         "c_reg": float(meta["c_reg"]), "f_target": float(meta["f_target_hz"]),
         "surrogate_gradient_function": meta["surrogate_function"],
         "surrogate_gradient_height": float(spec["surrogate_height"][j]),
         "surrogate_gradient_width": float(spec["surrogate_width"][j]),
         "flush_event_send_interval": float(meta["sequence_steps"] * meta["dt_ms"])}
    if spec["adaptive"][j]:
        p.update(adapt_beta=float(spec["adapt_beta"][j]), adapt_tau=float(spec["adapt_tau_ms"][j]), adaptation=0.0)
    return p


def create_recurrent(nest, meta: dict, spec: dict, models: tuple[str, str] = MODELS, params=neuron_params):
    """One NEST node per recurrent neuron, created in neuroport's order (so node i + first id is neuron i): of model
    ``models[1]`` where the neuron is adaptive, else ``models[0]``, with parameters ``params(meta, spec, j)``."""
    nodes = None
    for j in range(len(spec["v_th"])):
        node = nest.Create(models[1] if spec["adaptive"][j] else models[0], 1, params(meta, spec, j))
        nodes = node if nodes is None else nodes + node
    return nodes


def connect_matrix(nest, pre, post, weights: np.ndarray, mask: np.ndarray, syn: dict) -> None:
    """Connect pre → post for every True entry of ``mask`` (post × pre), with the given weights."""
    post_idx, pre_idx = np.nonzero(mask)
    if post_idx.size == 0:
        return
    pre_ids, post_ids = np.asarray(pre.tolist())[pre_idx], np.asarray(post.tolist())[post_idx]
    arrays = {"weight": weights[post_idx, pre_idx].astype(float), "delay": np.full(post_idx.size, float(syn["delay"]))}
    nest.Connect(pre_ids, post_ids, "one_to_one", {**syn, **arrays})


def matrix_of(nest, pre, post, shape: tuple[int, int]) -> np.ndarray:
    """Read back the weights pre → post as a (post × pre) matrix."""
    out = np.zeros(shape)
    conns = nest.GetConnections(pre, post)
    if len(conns) == 0:
        return out
    got = conns.get(["source", "target", "weight"])
    pre0, post0 = pre.tolist()[0], post.tolist()[0]
    out[np.asarray(got["target"]) - post0, np.asarray(got["source"]) - pre0] = got["weight"]
    return out


def optimizer_spec(meta: dict) -> dict:
    opt = {"type": meta["optimizer"], "batch_size": int(meta["batch_size"]), "eta": float(meta["learning_rate"]),
           "Wmin": float(meta["weight_min"]), "Wmax": float(meta["weight_max"])}
    if meta["optimizer"] == "adam":
        opt.update(beta_1=float(meta["beta1"]), beta_2=float(meta["beta2"]), epsilon=float(meta["epsilon"]))
    return opt


def set_inputs(gen_in, gen_target, spec: dict, meta: dict) -> None:
    """Generator times: step s of sequence b at 1 + b·T + s; targets from TOTAL_OFFSET on, one value per step."""
    x, targets = spec["inputs"], spec["targets"]  # (n_seq, T, n_in) 0/1; (n_seq, T, n_out)
    n_seq, n_steps, n_in = x.shape
    flat = x.reshape(n_seq * n_steps, n_in).astype(bool)
    times = np.arange(n_seq * n_steps, dtype=float) + OFFSET_GEN
    gen_in.set([{"spike_times": times[flat[:, i]]} for i in range(n_in)])
    target_times = np.arange(n_seq * n_steps, dtype=float) + TOTAL_OFFSET
    flat_targets = targets.reshape(n_seq * n_steps, -1)
    gen_target.set([{"amplitude_times": target_times, "amplitude_values": flat_targets[:, k]}
                    for k in range(flat_targets.shape[1])])


def run(spec: dict, meta: dict) -> dict[str, np.ndarray]:
    """Build and simulate the network; return what this rank recorded and holds (:func:`merge_ranks`)."""
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    n_seq, n_steps, n_in = spec["inputs"].shape
    n_out = spec["w_out"].shape[0]
    nest.set(resolution=float(meta["dt_ms"]), eprop_update_interval=float(n_steps * meta["dt_ms"]),
             eprop_learning_window=float(meta["learning_window_steps"] * meta["dt_ms"]),
             eprop_reset_neurons_on_update=True, print_time=False,
             local_num_threads=int(meta.get("threads", 1)), rng_seed=1)
    gen_in = nest.Create("spike_generator", n_in)
    parrots = nest.Create("parrot_neuron", n_in)
    rec = create_recurrent(nest, meta, spec)
    loss = "mean_squared_error" if meta["loss"] == "mse" else "cross_entropy"
    readouts = nest.Create("eprop_readout_bsshslm_2020", n_out, [
        {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "V_m": 0.0, "loss": loss, "regular_spike_arrival": bool(regular),
         "tau_m": float(t)} for t, regular in zip(spec["tau_out_ms"], spec["readout_regular_spike_arrival"], strict=True)])
    gen_target = nest.Create("step_rate_generator", n_out)
    dt = float(meta["dt_ms"])
    nest.SetDefaults("eprop_synapse_bsshslm_2020", {"optimizer": optimizer_spec(meta),
                                                    "average_gradient": bool(meta["average_gradient"])})
    eprop = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": dt, "tau_m_readout": float(spec["tau_out_ms"][0])}
    nest.Connect(gen_in, parrots, "one_to_one", {"synapse_model": "static_synapse", "delay": dt})
    connect_matrix(nest, parrots, rec, spec["w_in"], spec["w_in_mask"], eprop)
    connect_matrix(nest, rec, rec, spec["w_rec"], spec["w_rec_mask"], eprop)
    connect_matrix(nest, rec, readouts, spec["w_out"], spec["w_out_mask"], eprop)
    feedback = {"synapse_model": "eprop_learning_signal_connection_bsshslm_2020", "delay": dt}
    connect_matrix(nest, readouts, rec, spec["feedback"], np.ones(spec["feedback"].shape, bool), feedback)
    nest.Connect(gen_target, readouts, "one_to_one", {"synapse_model": "rate_connection_delayed", "delay": dt,
                                                      "receptor_type": 2})
    if loss == "cross_entropy":
        nest.Connect(readouts, readouts, {"rule": "all_to_all", "allow_autapses": False}, {"synapse_model": "rate_connection_delayed", "delay": dt,
                                                        "receptor_type": 1, "weight": 1.0})
    meter = nest.Create("multimeter", {"interval": dt, "record_from": ["readout_signal", "target_signal", "error_signal"],
                                       "start": TOTAL_OFFSET * dt, "stop": (TOTAL_OFFSET + n_seq * n_steps) * dt})
    nest.Connect(meter, readouts)
    probe = None
    if meta.get("record_recurrent"):
        probe = nest.Create("multimeter", {"interval": dt, "record_from": ["V_m", "surrogate_gradient", "learning_signal"]})
        nest.Connect(probe, rec)
    spikes = nest.Create("spike_recorder")
    nest.Connect(rec, spikes)
    final = nest.Create("spike_generator", 1)
    nest.Connect(final, parrots + rec, "all_to_all", {"weight": 1000.0, "delay": dt})
    set_inputs(gen_in, gen_target, spec, meta)
    t_end = (n_seq * n_steps + TOTAL_OFFSET) * dt
    final.set({"spike_times": [t_end + 2 * dt]})
    nest.Simulate(t_end + 5 * dt)
    raw = {f"meter_{k}": np.asarray(v) for k, v in meter.events.items() if k in METER_KEYS}
    raw.update(w_in=matrix_of(nest, parrots, rec, spec["w_in"].shape), w_rec=matrix_of(nest, rec, rec, spec["w_rec"].shape),
               w_out=matrix_of(nest, rec, readouts, spec["w_out"].shape), spike_times=np.asarray(spikes.events["times"]),
               first_readout=np.array(readouts.tolist()[0]), n_readouts=np.array(n_out),
               first_rec=np.array(rec.tolist()[0]), n_rec=np.array(len(rec)))
    if probe is not None:
        raw.update({f"probe_{k}": np.asarray(v) for k, v in probe.events.items() if k in PROBE_KEYS})
    return raw


METER_KEYS = ("senders", "times", "readout_signal", "target_signal", "error_signal")
PROBE_KEYS = ("senders", "times", "V_m", "surrogate_gradient", "learning_signal")
WEIGHTS = ("w_in", "w_rec", "w_out")


def merge_ranks(raws: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One rank's view of the run from every rank's share: each synapse lives on exactly one rank (its target's),
    so the weight matrices add up; recorder events concatenate (:func:`assemble` orders them)."""
    merged = {k: v for k, v in raws[0].items() if v.ndim == 0}
    for key in raws[0]:
        if key in WEIGHTS:
            merged[key] = np.sum([r[key] for r in raws], axis=0)
        elif raws[0][key].ndim == 1:
            merged[key] = np.concatenate([r[key] for r in raws])
    return merged


def assemble(raw: dict[str, np.ndarray], n_seq: int, n_steps: int) -> dict[str, np.ndarray]:
    """The OUT arrays from (merged) raw events: readout signals per sequence and step, weights, spike counts."""
    meter = {k[len("meter_"):]: v for k, v in raw.items() if k.startswith("meter_")}
    out = readout_events(meter, int(raw["first_readout"]), int(raw["n_readouts"]), n_seq, n_steps)
    out.update({k: raw[k] for k in WEIGHTS})
    rec_step = raw["spike_times"].astype(int) - 1 - (OFFSET_GEN + DELAY_IN_REC)  # stamp = step + 1
    out["spike_counts"] = np.bincount(rec_step[rec_step < n_seq * n_steps] // n_steps, minlength=n_seq)
    probe = {k[len("probe_"):]: v for k, v in raw.items() if k.startswith("probe_")}
    if probe:
        out.update(recurrent_events(probe, int(raw["first_rec"]), int(raw["n_rec"])))
    return out


def readout_events(events, first: int, n_readouts: int, n_seq: int, n_steps: int) -> dict[str, np.ndarray]:
    """Per sequence and step: (n_seq, T, n_out) arrays of NEST's readout, target and error signals."""
    out = {}
    order = np.lexsort((events["senders"], events["times"]))
    for name in ("readout_signal", "target_signal", "error_signal"):
        values = np.asarray(events[name])[order].reshape(n_seq * n_steps, n_readouts)
        out[name] = values.reshape(n_seq, n_steps, n_readouts)
    assert np.all(np.asarray(events["senders"])[order].reshape(-1, n_readouts)[0] - first == np.arange(n_readouts))
    return out


def recurrent_events(events, first: int, n: int) -> dict[str, np.ndarray]:
    """Diagnostics: (n_times, n_rec) arrays of V_m, ψ and the learning signal, indexed by recorded time − 1."""
    times = np.asarray(events["times"]).astype(int)
    out = {}
    for name in ("V_m", "surrogate_gradient", "learning_signal"):
        arr = np.zeros((times.max() + 1, n))
        arr[times - 1, np.asarray(events["senders"]) - first] = events[name]
        out[f"rec_{name}"] = arr
    return out


def load_spec(spec_path: str) -> tuple[dict[str, np.ndarray], dict]:
    """SPEC.npz: plain arrays and a JSON ``meta``."""
    with np.load(spec_path) as data:
        spec = {k: data[k] for k in data.files}
    return spec, json.loads(str(spec.pop("meta")))


def run_files(run_spec, spec_path: str, out_path: str) -> None:
    """Load SPEC.npz, call ``run_spec(spec, meta)`` and save its arrays to OUT.npz."""
    spec, meta = load_spec(spec_path)
    np.savez(out_path, **run_spec(spec, meta))


def rank_file(out_path: str, rank: int) -> str:
    return f"{out_path}.rank{rank}.npz"


def main(spec_path: str, out_path: str) -> None:
    import nest

    spec, meta = load_spec(spec_path)
    raw = run(spec, meta)
    if nest.NumProcesses() > 1:
        np.savez(rank_file(out_path, nest.Rank()), **raw)
    else:
        np.savez(out_path, **assemble(raw, *spec["inputs"].shape[:2]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
