"""Plots people would rather look at than read: learning curves, spike rasters with the readout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroport.outputs import open_output


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | Path) -> Path:
    """Lay out, write ``path`` as PNG through the checked writer (a failure names the path), close the figure."""
    try:
        fig.tight_layout()
        with open_output(path) as handle:
            fig.savefig(handle, format="png", dpi=110)
    finally:
        plt.close(fig)
    return Path(path)


def plot_learning_curve(curves: dict[str, list[dict]], path: str | Path, title: str = "") -> Path:
    """One line per run: loss (left) and error or MSE (right) against iterations."""
    plt = _pyplot()
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, history in curves.items():
        it = [h["iteration"] for h in history]
        ax_loss.plot(it, [h["loss"] for h in history], label=label)
        errors = [h["error"] for h in history]
        if not all(np.isnan(errors)):
            ax_err.plot(it, [100 * e for e in errors], label=label)
    ax_loss.set(xlabel="iteration", ylabel="loss per sequence", yscale="log", title=title)
    ax_err.set(xlabel="iteration", ylabel="misclassified (%)")
    ax_err.axhline(8, color="grey", lw=0.8, ls="--")
    ax_loss.legend()
    return _save(plt, fig, path)


def plot_raster(spikes: np.ndarray, readout: np.ndarray, target: np.ndarray | None, path: str | Path, dt_ms: float = 1.0) -> Path:
    """Spike raster of one sample (T, n) above its readout (T, k) and target."""
    plt = _pyplot()
    fig, (ax_r, ax_y) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    t_idx, n_idx = np.nonzero(spikes)
    ax_r.scatter(t_idx * dt_ms, n_idx, s=1, c="k")
    ax_r.set(ylabel="neuron")
    t = np.arange(readout.shape[0]) * dt_ms
    for k in range(readout.shape[1]):
        ax_y.plot(t, readout[:, k], label=f"readout {k}")
        if target is not None:
            ax_y.plot(t, target[:, k], ls="--", lw=0.8, label=f"target {k}")
    ax_y.set(xlabel="time (ms)", ylabel="readout")
    ax_y.legend(fontsize=7, ncol=4)
    return _save(plt, fig, path)


def plot_energy_breakdown(reports: list, path: str | Path) -> Path:
    """Stacked bars: energy per inference by operation, one bar per hardware config."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(reports), 4))
    items = list(dict.fromkeys(line.item for r in reports for line in r.lines))  # every family's lines, in order
    bottom = np.zeros(len(reports))
    for item in items:
        values = np.array([sum(ln.energy_j for ln in r.lines if ln.item == item) for r in reports]) * 1e6
        if values.any():
            ax.bar([r.hw_name for r in reports], values, bottom=bottom, label=item)
            bottom += values
    ax.set(ylabel="energy per inference (µJ)", title="energy breakdown", yscale="log" if bottom.max() > 100 * bottom.min() > 0 else "linear")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def plot_population_activity(rates_hz: dict[str, dict[str, float]], path: str | Path) -> Path:
    """Grouped bars: mean firing rate of every population, one group per hardware config."""
    plt = _pyplot()
    configs = list(rates_hz)
    pops = list(next(iter(rates_hz.values())))
    fig, ax = plt.subplots(figsize=(1.8 + 1.4 * len(configs), 3.6))
    width = 0.8 / max(len(pops), 1)
    for i, pop in enumerate(pops):
        ax.bar(np.arange(len(configs)) + i * width, [rates_hz[c][pop] for c in configs], width, label=pop)
    ax.set_xticks(np.arange(len(configs)) + width * (len(pops) - 1) / 2, configs)
    ax.set(ylabel="mean rate (Hz)", title="activity per population")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)
