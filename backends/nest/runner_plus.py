"""Run e-prop+ training in NEST 3.10 (``eprop_iaf`` / ``eprop_iaf_adapt`` → ``eprop_readout``, ``eprop_synapse``)
from a lowered spec (:func:`neuroport.backends.nest.engine_plus.nest_plus_spec`), in its own process:

    python -m neuroport.backends.nest.runner_plus SPEC.npz OUT.npz

Built as NEST's ``eprop_supervised_regression_sine-waves.py`` builds it: spike generators → parrot neurons →
recurrent neurons → readouts, every e-prop synapse with a one-step delay, the error sent back through
``eprop_learning_signal_connection`` (weights B), targets and the learning window (the task's loss mask) through
``step_rate_generator`` → ``rate_connection_delayed``.  Sequence step s of the stream is generator time 1 + s, so
it reaches the recurrent neurons in NEST step s + 2 and the readouts see its spikes in step s + 3.  The run stops
after step S + 2 (S: the stream's length): every spike of the stream has then been delivered, and nothing later.
"""

from __future__ import annotations

import sys

import numpy as np
from neuroport.backends.nest.runner import connect_matrix, matrix_of, run_files

OFFSET_GEN, TOTAL_OFFSET = 1, 2  # generator offset; generator + input delay (the example's total_offset)
SURROGATE_NAMES = {"arctan": "arctan_derivative"}  # neuroport name → NEST name where they differ


def neuron_params(meta: dict, spec: dict, j: int) -> dict:
    """NEST parameters of recurrent neuron ``j`` (voltages relative to E_L = 0, C_m = 1)."""
    p = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "V_m": 0.0, "tau_m": float(spec["tau_m_ms"][j]),
         "V_th": float(spec["v_th"][j]), "t_ref": float(spec["t_ref_ms"][j]), "c_reg": float(meta["c_reg"]),
         "f_target": float(meta["f_target_hz"]), "kappa": float(meta["kappa"]), "kappa_reg": float(meta["kappa_reg"]),
         "eprop_isi_trace_cutoff": float(meta["cutoff_ms"]),
         "surrogate_gradient_function": SURROGATE_NAMES.get(meta["surrogate_function"], meta["surrogate_function"]),
         "surrogate_gradient_height": float(spec["surrogate_height"][j]),
         "surrogate_gradient_width": float(spec["surrogate_width"][j])}
    if spec["adaptive"][j]:
        p.update(adapt_beta=float(spec["adapt_beta"][j]), adapt_tau=float(spec["adapt_tau_ms"][j]), adaptation=0.0)
    if not np.isnan(spec["v_reset"][j]):
        p.update(V_reset=float(spec["v_reset"][j]))
    return p


def create_plus_recurrent(nest, meta: dict, spec: dict):
    """One NEST node per recurrent neuron in neuroport's order: ``eprop_iaf(_adapt)``, or where ``v_reset`` is set
    ``eprop_iaf_psc_delta(_adapt)``."""
    nodes = None
    for j in range(len(spec["v_th"])):
        family = "eprop_iaf" if np.isnan(spec["v_reset"][j]) else "eprop_iaf_psc_delta"
        node = nest.Create(family + ("_adapt" if spec["adaptive"][j] else ""), 1, neuron_params(meta, spec, j))
        nodes = node if nodes is None else nodes + node
    return nodes


def set_signals(gen_in, gen_target, gen_window, spec: dict, dt: float) -> None:
    """Input spikes at 1 + s; target and learning window (loss mask, 0 after the stream) of step s at 3 + s: the
    readout receives them one step later than NEST's example does, so that y[s] meets y*[s]."""
    x, targets, mask = spec["inputs"], spec["targets"], spec["loss_mask"]  # (S, n_in), (S, n_out), (S,)
    n_steps = x.shape[0]
    times = (np.arange(n_steps, dtype=float) + OFFSET_GEN) * dt
    gen_in.set([{"spike_times": times[x[:, i].astype(bool)]} for i in range(x.shape[1])])
    signal_times = (np.arange(n_steps + 1, dtype=float) + TOTAL_OFFSET + 1) * dt
    gen_target.set([{"amplitude_times": signal_times, "amplitude_values": np.append(targets[:, k], 0.0)}
                    for k in range(targets.shape[1])])
    gen_window.set({"amplitude_times": signal_times, "amplitude_values": np.append(mask.astype(float), 0.0)})


def optimizer_spec(meta: dict) -> dict:
    opt = {"type": meta["optimizer"], "batch_size": 1, "eta": float(meta["learning_rate"]),
           "optimize_each_step": bool(meta["optimize_each_step"]), "Wmin": float(meta["weight_min"]), "Wmax": float(meta["weight_max"])}
    if meta["optimizer"] == "adam":
        opt.update(beta_1=float(meta["beta1"]), beta_2=float(meta["beta2"]), epsilon=float(meta["epsilon"]))
    return opt


def build(nest, spec: dict, meta: dict):
    """Create and connect the network; returns (parrots, recurrent, readouts, generators, recorders)."""
    dt = float(meta["dt_ms"])
    n_in, n_out = spec["w_in"].shape[1], spec["w_out"].shape[0]
    gen_in, parrots = nest.Create("spike_generator", n_in), nest.Create("parrot_neuron", n_in)
    rec = create_plus_recurrent(nest, meta, spec)
    readouts = nest.Create("eprop_readout", n_out, [
        {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "V_m": 0.0, "tau_m": float(t),
         "eprop_isi_trace_cutoff": float(meta["cutoff_ms"])} for t in spec["tau_out_ms"]])
    gen_target, gen_window = nest.Create("step_rate_generator", n_out), nest.Create("step_rate_generator")
    nest.SetDefaults("eprop_synapse", {"optimizer": optimizer_spec(meta)})
    eprop = {"synapse_model": "eprop_synapse", "delay": dt}
    nest.Connect(gen_in, parrots, "one_to_one", {"synapse_model": "static_synapse", "delay": dt})
    connect_matrix(nest, parrots, rec, spec["w_in"], spec["w_in_mask"], eprop)
    connect_matrix(nest, rec, rec, spec["w_rec"], spec["w_rec_mask"], eprop)
    connect_matrix(nest, rec, readouts, spec["w_out"], spec["w_out_mask"], eprop)
    connect_matrix(nest, readouts, rec, spec["feedback"], np.ones(spec["feedback"].shape, bool),
                   {"synapse_model": "eprop_learning_signal_connection", "delay": dt})
    rate = {"synapse_model": "rate_connection_delayed", "delay": dt}
    nest.Connect(gen_target, readouts, "one_to_one", {**rate, "receptor_type": 2})
    nest.Connect(gen_window, readouts, "all_to_all", {**rate, "receptor_type": 1})
    meter = nest.Create("multimeter", {"interval": dt, "record_from": ["readout_signal", "target_signal", "error_signal"]})
    nest.Connect(meter, readouts)
    spikes = nest.Create("spike_recorder")
    nest.Connect(rec, spikes)
    set_signals(gen_in, gen_target, gen_window, spec, dt)
    return parrots, rec, readouts, meter, spikes


def run(spec: dict, meta: dict) -> dict[str, np.ndarray]:
    import nest

    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    dt = float(meta["dt_ms"])
    nest.set(resolution=dt, print_time=False, local_num_threads=int(meta.get("threads", 1)), rng_seed=1)
    parrots, rec, readouts, meter, spikes = build(nest, spec, meta)
    n_steps = spec["inputs"].shape[0]
    nest.Simulate((n_steps + TOTAL_OFFSET + 1) * dt)
    out = {"w_in": matrix_of(nest, parrots, rec, spec["w_in"].shape), "w_rec": matrix_of(nest, rec, rec, spec["w_rec"].shape),
           "w_out": matrix_of(nest, rec, readouts, spec["w_out"].shape)}
    nest.Simulate(dt)  # the multimeter writes a step's values one step later
    ev = meter.events
    order = np.lexsort((ev["senders"], ev["times"]))
    times = np.asarray(ev["times"])[order].reshape(-1, len(readouts))[:, 0]
    out.update({f"nest_{name}": np.asarray(ev[name])[order].reshape(len(times), len(readouts))
                for name in ("readout_signal", "target_signal", "error_signal")})
    out["nest_times"] = times
    out["spike_times"] = np.asarray(spikes.events["times"])
    out["spike_senders"] = np.asarray(spikes.events["senders"]) - rec.tolist()[0]
    return out


def main(spec_path: str, out_path: str) -> None:
    run_files(run, spec_path, out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
