"""One design point, the existing pipeline end to end: (train →) quantize → emulate on held-out task data →
compare with the float reference → energy, latency and EDP.  This is the function a Dask task runs.

The model file's YAML is edited before loading (``size``: every population scaled to the total, the last one
taking the rounding remainder; ``connectivity``: ``connection_probability`` of every projection between
populations; ``learning_rate``: ``learning.optimizer.learning_rate``; ``seed``: the model's seed), so the loader
validates the result and draws the weights as for any model file.  Training is :func:`train_eprop` (every variant
it dispatches to); quantizing, comparing and costing are :mod:`neuroport.pipeline`'s.
"""

from __future__ import annotations

import copy
import time
import traceback
from typing import Any

from neuroport.errors import NeuroportError

RESULT_FIELDS = ("metric", "float_score", "fixed_score", "drop", "spike_agreement", "saturation_events",
                 "lost_tensors", "energy_j", "latency_s", "edp_js", "rate_hz")


def edited_model(doc: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The model file's YAML with the point's size, connectivity, learning rate and seed."""
    doc = copy.deepcopy(doc)
    if config.get("seed") is not None:
        doc["seed"] = config["seed"]
    if config.get("learning_rate") is not None:
        doc.setdefault("learning", {}).setdefault("optimizer", {})["learning_rate"] = config["learning_rate"]
    if config.get("size") is not None:
        scale_populations(doc.get("populations") or [], config["size"])
    if config.get("connectivity") is not None:
        names = {p.get("name") for p in doc.get("populations") or []}
        for proj in doc.get("projections") or []:
            if _names(proj.get("source")) <= names and _names(proj.get("target")) <= names:
                proj["connection_probability"] = config["connectivity"]
    return doc


def _names(value: Any) -> set:
    return set(value) if isinstance(value, list) else {value}


def scale_populations(populations: list[dict[str, Any]], total: int) -> None:
    """Population sizes n_i → round(total n_i / Σ n), the last one taking the remainder (each ≥ 1)."""
    if len(populations) > total:
        raise NeuroportError(f"size {total} is smaller than the model's {len(populations)} populations", path="populations")
    old = [int(p.get("size", 1)) for p in populations]
    new = [max(1, round(total * n / sum(old))) for n in old[:-1]]
    for pop, size in zip(populations, [*new, total - sum(new)], strict=True):
        pop["size"] = size


def score_value(score: dict[str, float]) -> tuple[str, float]:
    return ("accuracy", score["accuracy"]) if "accuracy" in score else ("mse", score["mse"])


def evaluate_point(config: dict[str, Any]) -> dict[str, Any]:
    """Run the point's pipeline and return its result fields (raises on any failure)."""
    from neuroport.explore.space import hw_with_bits
    from neuroport.hw import load_hw
    from neuroport.ir.loader import load_model
    from neuroport.ir.yamlpath import read_yaml
    from neuroport.pipeline import Prepared, compare, cost_report, quantization_losses, quantize, task_batch
    from neuroport.training.eprop import train_eprop

    graph = load_model(config["model_file"], data=edited_model(read_yaml(config["model_file"]), config))
    if config.get("train_iterations"):
        graph = train_eprop(graph, config["train_iterations"], batch_size=config.get("train_batch_size")).graph
    hw = hw_with_bits(load_hw(config["hw"]), config.get("weight_bits"), config.get("v_bits"))
    fixed = quantize(graph, hw, allow_lossy=True)  # a lossy point is measured: its score shows the loss, counted here
    lost = len(quantization_losses(graph, fixed))
    result = compare(graph, fixed, task_batch(graph, config["samples"], config["test_seed"]))
    energy = cost_report(Prepared(graph, None, hw, fixed), config["target"], result.stats)
    metric, float_score = score_value(result.float_score)
    return {"metric": metric, "float_score": float_score, "fixed_score": score_value(result.fixed_score)[1],
            "drop": next(iter(result.drop().values())), "spike_agreement": result.spike_agreement,
            "saturation_events": int(sum(result.stats.overflow.values())), "lost_tensors": lost, "energy_j": energy.energy_j,
            "latency_s": energy.latency_s, "edp_js": energy.edp_js, "rate_hz": result.fixed_rate_hz}


def stored_config(config: dict[str, Any]) -> dict[str, Any]:
    """What a record keeps of the config: everything but this machine's absolute path of the model."""
    return {k: v for k, v in config.items() if k != "model_file"}


def run_point(key: str, config: dict[str, Any]) -> dict[str, Any]:
    """The point's stored record: its key and config, status ``ok`` with the results, or ``failed`` with the
    error (one line; the traceback too for errors that are not the user's); never raises."""
    start = time.perf_counter()
    record: dict[str, Any] = {"key": key, "config": stored_config(config)}
    try:
        record |= {"status": "ok", "results": evaluate_point(config)}
    except NeuroportError as err:
        record |= {"status": "failed", "error": str(err)}
    except Exception as err:  # noqa: BLE001 — a failed point is recorded and the others go on
        record |= {"status": "failed", "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
    record["seconds"] = time.perf_counter() - start
    return record
