"""Time of `neuroport compile` (load + quantize + check + lower + save) for a 1000-neuron recurrent model.

    .venv/bin/python benchmarks/compile_time.py [--neurons 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml
from click.testing import CliRunner

from neuroport import jsonio
from neuroport.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neurons", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    doc = yaml.safe_load((ROOT / "examples/evidence_accumulation.yaml").read_text())
    doc["populations"][0]["size"] = args.neurons // 2
    doc["populations"][1]["size"] = args.neurons - args.neurons // 2
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "big.yaml"
        model.write_text(yaml.safe_dump(doc))
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = CliRunner().invoke(cli, ["compile", str(model), "--target", "loihi-sim", "--samples", "0",
                                              "-o", str(Path(tmp) / "art"), "--json"])
            times.append(time.perf_counter() - t0)
            assert result.exit_code == 0, result.output
    record = {"neurons": args.neurons, "synapses": json.loads(result.output)["weights"], "seconds": times, "best_s": min(times)}
    print(json.dumps(record, indent=1))
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results/compile_time.json").write_text(jsonio.dumps(record, indent=1))


if __name__ == "__main__":
    main()
