"""Conformance: the shared edge-case networks (neuroport.testing.conformance.CASES: threshold equality, wrap and
saturation boundaries, zero and maximum decay, refractoriness, ALIF adaptation, readout) on every installed
backend, compared exactly with the emulator.  A backend that cannot run here must say why in its capabilities."""

from __future__ import annotations

import pytest

from neuroport.backend import list_targets, load_backend
from neuroport.testing.conformance import CASES

INSTALLED = [t.name for t in list_targets() if t.installed]


def _runs_against_emulator(name: str) -> bool:
    backend = load_backend(name)
    return backend.capabilities(None).bit_exact and callable(getattr(backend, "verify_against_emulator", None))


EXACT = [name for name in INSTALLED if name != "emulator" and _runs_against_emulator(name)]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("target", EXACT)
def test_case_is_bit_exact(target, case):
    fixed, inputs = CASES[case]()
    result = load_backend(target).verify_against_emulator(fixed, inputs, max_samples=inputs.shape[0])
    assert result["bit_exact"], result


@pytest.mark.parametrize("target", sorted(set(INSTALLED) - set(EXACT) - {"emulator"}))
def test_backend_that_cannot_be_compared_says_why(target):
    caps = load_backend(target).capabilities(None)
    assert caps.unsupported, f"{target} runs no conformance case and gives no reason"
    assert all(len(reason) > 20 for reason in caps.unsupported.values())


def test_lava_is_among_the_exact_backends():
    assert "loihi-sim" in EXACT
