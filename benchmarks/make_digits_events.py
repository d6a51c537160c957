"""Write the neuromorphic digits set (scikit-learn's 8×8 digits as N-MNIST-style saccade events) in N-MNIST's
layout, for examples/digits_events.yaml.

    .venv/bin/python benchmarks/make_digits_events.py --out data/digits_events
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from neuroport.tasks.digits_events import convert_digits

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "data" / "digits_events"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tqdm(total=1797, desc="digits → events", unit="image") as bar:
        counts = convert_digits(args.out, seed=args.seed, progress=bar.update)
    print(f"wrote {counts['train']} training and {counts['test']} test files under {args.out}")


if __name__ == "__main__":
    main()
