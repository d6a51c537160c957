"""A LIF-only tiny model (the SpiNNaker target maps LIF exactly; ALIF is refused)."""

from __future__ import annotations

import pytest

from tests.conftest import write_yaml


@pytest.fixture
def lif_doc(tiny_doc) -> dict:
    doc = dict(tiny_doc, name="tiny_lif")
    doc["populations"] = [dict(tiny_doc["populations"][0], size=40, t_ref_ms=2.0)]
    for proj in doc["projections"]:
        proj["source"] = "lif" if proj["source"] != "in" else "in"
        proj["target"] = "lif" if proj["target"] != "out" else "out"
    return doc


@pytest.fixture
def lif_model(tmp_path, lif_doc):
    return write_yaml(tmp_path, lif_doc)
