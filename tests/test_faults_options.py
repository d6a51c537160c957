"""Every option of every command is checked by its click type before anything runs: a bad value exits 2 with one
line naming the option, writes nothing, and never shows a traceback."""

from __future__ import annotations

import pytest

from neuroport.cli import main
from tests.conftest import ROOT

MODEL = str(ROOT / "examples" / "evidence_accumulation.yaml")

BAD = [
    (["verify", MODEL, "--samples", "0"], "'--samples'"),
    (["verify", MODEL, "--seed", "-1"], "'--seed'"),
    (["verify", MODEL, "--backend-samples", "-2"], "'--backend-samples'"),
    (["report", MODEL, "--samples", "0"], "'--samples'"),
    (["report", MODEL, "--compare", "loihi1,,loihi2"], "'--compare'"),
    (["compile", MODEL, "--samples", "-1"], "'--samples'"),
    (["train", MODEL, "--on-chip", "--chips", "0"], "'--chips'"),
    (["train", MODEL, "--on-chip", "--rates", "{decimate: 3}"], "'--rates': not valid JSON"),
    (["train", MODEL, "--on-chip", "--rates", "[3]"], "'--rates': expected a JSON object"),
    (["train", MODEL, "--on-chip", "--rates", '{"decimal": 3}'], "'--rates': unknown rate 'decimal'"),
    (["train", MODEL, "--on-chip", "--rates", '{"decimate": 1.5}'], "'--rates': rate 'decimate' must be an integer"),
    (["train", MODEL, "--on-chip", "--schedule", '[[-1, {"decimate": 6}]]'], "'--schedule': entry 0"),
    (["train", MODEL, "--on-chip", "--schedule", '{"decimate": 6}'], "'--schedule': expected a JSON array"),
    (["train", MODEL, "--on-chip", "--held-out", "0"], "'--held-out'"),
    (["train", MODEL, "--on-chip", "--eval-every", "0"], "'--eval-every'"),
    (["train", MODEL, "-i", "0"], "'--iterations'"),
    (["train", MODEL, "--batch-size", "0"], "'--batch-size'"),
    (["train", MODEL, "--seed", "-3"], "'--seed'"),
    (["train", MODEL, "--engine", "nest", "--threads", "0"], "'--threads'"),
    (["convert", MODEL, "x.nir", "--dt-ms", "nan"], "'--dt-ms'"),
    (["convert", MODEL, "x.nir", "--dt-ms", "-1"], "'--dt-ms'"),
]


@pytest.mark.parametrize(("argv", "names"), BAD, ids=[" ".join(a[:1] + a[2:]) for a, _ in BAD])
def test_bad_option_is_one_line_naming_it(argv, names, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main([*argv, "-o", str(tmp_path / "out")] if argv[0] in ("train", "compile") else argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and names in err, err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "a refused command wrote something"
