"""Run NEST's own sine-wave e-prop example (``eprop_supervised_regression_sine-waves_bsshslm_2020.py``, shipped
in the nest-simulator wheel) unchanged and report the MSE it reaches, the bar our pattern-generation result is
held to.  Writes results/nest_sine_reference.json.

    .venv/bin/python benchmarks/nest_sine_reference.py

NEST's example reports loss = ½ Σ_t (y − y*)² per 1000-step sequence; MSE = 2 · loss / 1000.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from neuroport import jsonio

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "eprop_supervised_regression_sine-waves_bsshslm_2020.py"


def main() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt
    import nest

    script = Path(nest.__file__).parent / "doc/examples/pynest/eprop_plasticity" / EXAMPLE
    plt.show = lambda *a, **k: None  # the example ends with plt.show()
    t0 = time.perf_counter()
    # the example shows its figure through IPython.display.Image (not installed, not needed): stub that one import
    source = script.read_text().replace("from IPython.display import Image", "Image = lambda *args, **kwargs: None")
    env = {"__name__": "__main__", "__file__": str(script)}
    exec(compile(source, str(script), "exec"), env)  # noqa: S102 - NEST's own example, run unchanged otherwise
    seconds = time.perf_counter() - t0
    loss = np.asarray(env["loss"], dtype=float)
    steps = int(env["steps"]["sequence"])
    mse = 2 * loss / steps
    summary = {"example": EXAMPLE, "iterations": int(loss.size), "sequence_steps": steps, "seconds": seconds,
               "final_mse_mean_last_10": float(mse[-10:].mean()), "first_mse": float(mse[0]),
               "iterations_to_mse_below_0.03": int(np.argmax(mse < 0.03)) + 1 if (mse < 0.03).any() else None,
               "mse": mse.tolist()}
    out = ROOT / "results" / "nest_sine_reference.json"
    out.write_text(jsonio.dumps(summary, indent=1))
    print(f"NEST sine-wave example: MSE {mse[0]:.4f} → {mse[-10:].mean():.4f} (mean of the last 10 of "
          f"{loss.size} iterations), {seconds:.0f} s; → {out}")


if __name__ == "__main__":
    main()
