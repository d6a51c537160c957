"""Does a small step along the e-prop gradient lower the loss? For examples/pattern_generation_izhikevich.yaml with
recurrent weights of gain g added (W_rec ~ N(0, 1) · g / sqrt(n), zero diagonal; g = 0 is the example itself):
fit the readout by least squares on the frozen clock input, compute the e-prop gradient of the input weights
(symmetric feedback), step w_in ← w_in ∓ η g/max|g| and record the change of the loss (½ Σ err²).

    .venv/bin/python benchmarks/izhikevich_descent_check.py   → results/pattern_generation_izhikevich/descent_check.json
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from neuroport import jsonio
from neuroport.emulator.izhikevich import assemble_izhikevich, simulate_izhikevich
from neuroport.ir.loader import load_model
from neuroport.pipeline import task_batch
from neuroport.training.gradients import output_error
from neuroport.training.izhikevich import izhikevich_gradients

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "results" / "pattern_generation_izhikevich"
STEPS_MV = (0.01, 0.03, 0.1, 0.3)


def main() -> None:
    graph = load_model(ROOT / "examples" / "pattern_generation_izhikevich.yaml")
    base = assemble_izhikevich(graph)
    batch = task_batch(graph, 1, 0)
    x = batch.inputs.astype(np.float64)
    rng = np.random.default_rng(0)
    w_rec = rng.standard_normal((base.n_rec, base.n_rec)) / np.sqrt(base.n_rec)
    np.fill_diagonal(w_rec, 0.0)
    rows = []
    for gain in (0.0, 2.0, 5.0, 20.0):
        net = replace(base, w_rec=w_rec * gain, w_rec_mask=np.ones_like(w_rec, dtype=bool))
        z = simulate_izhikevich(net, x).z[0]
        filtered = np.zeros_like(z)
        for t in range(z.shape[0]):
            filtered[t] = net.kappa[0] * (filtered[t - 1] if t else 0.0) + z[t]
        net = replace(net, w_out=np.linalg.lstsq(filtered, batch.targets[0], rcond=1e-3)[0].T)
        run = simulate_izhikevich(net, x)
        grads = izhikevich_gradients(net, x, run, batch, feedback="symmetric", b_random=None)
        direction = grads.w_in / np.abs(grads.w_in).max()
        change = {}
        for eta in STEPS_MV:
            for sign, name in ((1, "descent"), (-1, "ascent")):
                loss = output_error(net, simulate_izhikevich(replace(net, w_in=net.w_in - sign * eta * direction), x), batch)[1]
                change[f"{name}_{eta}mV"] = round(loss - grads.loss, 4)
        rows.append({"recurrent_gain": gain, "loss": round(grads.loss, 4), "loss_change": change})
        print(rows[-1])
    (HERE / "descent_check.json").write_text(jsonio.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
