"""``learning.reward``: the YAML section of reward-based e-prop (actor-critic), read and written.

    learning:
      variant: reward_based
      feedback: random            # or symmetric (adaptive is refused)
      reward:
        gamma: 0.9                # discount per step, 0 ≤ γ < 1
        c_value: 1.0              # weight of the critic's loss
        c_entropy: 0.0            # entropy bonus of the policy
        reward_correct: 1.0       # reward of an action that matches the label
        reward_wrong: 0.0         # ... and of one that does not
        decision: every_step      # actions at every step of the task's decision window, or its last_step only,
                                  # or window_mean: one action per trial from softmax(readout averaged over it)
        value_tau_ms: 20.0        # time constant of the critic's leaky readout
        value_init: {values: [...]}                  # optional, one per neuron; default zeros (or {file, key},
                                                     # or {distribution: normal, gain})
        value_feedback_init: {distribution: normal}  # B^V, random feedback only (default N(0, 1); same forms)

The policy is the model's readout (π = softmax(y), loss ``cross_entropy``), so a trained model deploys like any
classifier; the critic's weights live here, with the learning rule, because only training uses them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from neuroport.errors import ModelError
from neuroport.ir.float_graph import FloatGraph
from neuroport.ir.initializers import feedback_weights
from neuroport.ir.learning_rule import REWARD_DECISIONS, EpropRule, RewardSpec
from neuroport.ir.yamlpath import Section

STREAM_FEEDBACK = 3  # the loader's feedback stream; index 0 is B^π
VALUE_FEEDBACK_INDEX, VALUE_INIT_INDEX = 1, 2


def _column(s: Section, key: str, n_rec: int, seed: int, index: int, base_dir: Path) -> np.ndarray:
    """One weight per recurrent neuron: ``{values: [...]}`` (as written back), ``{file, key}`` or a distribution."""
    spec = s.section(key, {})
    if spec.has("values"):
        values = spec.raw("values")
        if not isinstance(values, list) or len(values) != n_rec:
            raise spec.fail(f"expected a list of {n_rec} numbers (one per recurrent neuron)", "values")
        spec.finish()
        return np.array([spec.check_number(v, "values") for v in values])
    rng = np.random.default_rng([seed, STREAM_FEEDBACK, index])
    return feedback_weights(spec, (n_rec, 1), rng, base_dir)[:, 0].copy()


def read_reward(s: Section, rule: EpropRule, graph: FloatGraph, base_dir: Path) -> EpropRule:
    """Return ``rule`` with its :class:`RewardSpec` read from ``s`` (the ``learning`` section); a ``reward``
    section on another variant, or adaptive feedback with reward_based, is an error at its YAML path."""
    if rule.variant != "reward_based":
        if s.has("reward"):
            raise s.fail(f"`reward` is read only with `variant: reward_based`, not '{rule.variant}'", "reward")
        return rule
    if rule.feedback == "adaptive":
        raise s.fail("reward-based e-prop supports feedback 'symmetric' or 'random', not 'adaptive' "
                     "(Kolen-Pollack feedback for the critic is not built)", "feedback")
    r = s.section("reward", {})
    n_rec = graph.n_recurrent
    spec = RewardSpec(
        gamma=r.number("gamma", 0.9, non_negative=True),
        c_value=r.number("c_value", 1.0, non_negative=True),
        c_entropy=r.number("c_entropy", 0.0, non_negative=True),
        reward_correct=r.number("reward_correct", 1.0),
        reward_wrong=r.number("reward_wrong", 0.0),
        decision=r.string("decision", "every_step", choices=REWARD_DECISIONS),
        value_tau_ms=r.number("value_tau_ms", float(graph.readout.tau_out_ms[0]), positive=True),
        value_weights=(_column(r, "value_init", n_rec, graph.seed, VALUE_INIT_INDEX, base_dir)
                       if r.has("value_init") else np.zeros(n_rec)),
        value_feedback=(_column(r, "value_feedback_init", n_rec, graph.seed, VALUE_FEEDBACK_INDEX, base_dir)
                        if rule.feedback == "random" else None),
    )
    if spec.gamma >= 1.0:
        raise r.fail(f"expected a discount 0 ≤ gamma < 1, got {spec.gamma}", "gamma")
    if spec.reward_correct <= spec.reward_wrong:
        raise r.fail(f"reward_correct ({spec.reward_correct}) must exceed reward_wrong ({spec.reward_wrong})", "reward_correct")
    r.raw("value_feedback_init", None)
    r.finish()
    return replace(rule, reward=spec)


def check_reward_model(graph: FloatGraph, file: str) -> None:
    """A reward_based model needs a classification readout (the policy) and a task (its environment)."""
    if graph.learning is None or graph.learning.variant != "reward_based":
        return
    if graph.readout.loss != "cross_entropy":
        raise ModelError(f"reward-based e-prop needs the readout to be a policy over actions, loss 'cross_entropy', "
                         f"got '{graph.readout.loss}'", file=file, path="readout.loss")
    if graph.readout.size < 2:
        raise ModelError(f"reward-based e-prop needs at least 2 actions (readout units), got {graph.readout.size}",
                         file=file, path="readout.size")
    if graph.task is None:
        raise ModelError("reward-based e-prop needs a `task:` with labels: the environment that rewards the actions",
                         file=file, path="task")
    for i, proj in enumerate(graph.projections):
        if proj.delay_steps != 1:
            raise ModelError(f"reward-based e-prop supports synaptic delays of 1 step only, got {proj.delay_steps} "
                             "(the critic's and the policy's learning signals are not delay-aligned)",
                             file=file, path=f"projections[{i}].delay_steps")


def reward_yaml(spec: RewardSpec) -> dict[str, Any]:
    """The ``learning.reward`` mapping of ``spec``; the critic's weights and feedback are written inline (exact
    float reprs), so that the section travels whole wherever the YAML document does (e.g. NIR metadata)."""
    out: dict[str, Any] = {"gamma": spec.gamma, "c_value": spec.c_value, "c_entropy": spec.c_entropy,
                           "reward_correct": spec.reward_correct, "reward_wrong": spec.reward_wrong,
                           "decision": spec.decision, "value_tau_ms": spec.value_tau_ms,
                           "value_init": {"values": [float(v) for v in spec.value_weights]}}
    if spec.value_feedback is not None:
        out["value_feedback_init"] = {"values": [float(v) for v in spec.value_feedback]}
    return out
