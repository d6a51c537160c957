"""Hardware configs: every number has a source and a sureness; bad configs get clear errors."""

from __future__ import annotations

import pytest
import yaml

from neuroport.errors import HwConfigError
from neuroport.hw import builtin_configs, load_hw


@pytest.mark.parametrize("name", builtin_configs())
def test_builtin_configs_load_with_provenance(name):
    hw = load_hw(name)
    for table in (hw.params, hw.resources, hw.timing, hw.energy):
        for key, q in table.items():
            assert q.source.strip(), f"{name}: {key} has no source"
    for key, fmt in hw.numerics.items():
        assert fmt.source.strip(), f"{name}: numerics.{key} has no source"
    assert len(hw.sha256) == 64


def test_loihi2_costs_are_marked_estimates():
    hw = load_hw("loihi2")
    assert all(q.sureness == "estimate" for q in hw.energy.values())
    assert hw.cost("e_synop_j").value == load_hw("loihi1").cost("e_synop_j").value == 35.5e-12  # sanafe 2.2.9 loihi.yaml


def _broken(tmp_path, mutate):
    doc = yaml.safe_load(open(load_hw("loihi1").file))
    mutate(doc)
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_number_without_source_is_refused(tmp_path):
    path = _broken(tmp_path, lambda d: d["energy"]["e_synop_j"].pop("source"))
    with pytest.raises(HwConfigError, match=r"energy.e_synop_j.source: required field is missing"):
        load_hw(path)


def test_bad_sureness_and_unknown_name(tmp_path):
    path = _broken(tmp_path, lambda d: d["timing"]["t_synop_s"].update(sureness="guess"))
    with pytest.raises(HwConfigError, match=r"timing.t_synop_s.sureness: unknown value 'guess'"):
        load_hw(path)
    with pytest.raises(HwConfigError, match=r"unknown hardware config 'loihi3' \(did you mean 'loihi2'\?\)"):
        load_hw("loihi3")
