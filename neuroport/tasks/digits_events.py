"""A small neuromorphic digits set made offline: scikit-learn's bundled 8×8 digits (1,797 images, no download)
turned into N-MNIST-style saccade events (:func:`neuroport.tasks.events.image_to_saccade_events`) and written in
N-MNIST's folder layout and ``.bin`` format, so that the N-MNIST task (:mod:`neuroport.tasks.nmnist`) reads it
exactly as it reads the real dataset.

    <out>/Train/<digit>/<index>.bin,  <out>/Test/<digit>/<index>.bin      sensor 32 × 32 (scale 3), 300 ms
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroport.tasks.events import image_to_saccade_events, sensor_side, write_bin

SCALE = 3
SENSOR = sensor_side(8, SCALE)  # 32


def convert_digits(out: str | Path, *, n_train: int | None = None, n_test: int | None = None, test_fraction: float = 0.25,
                   seed: int = 0, progress=None) -> dict[str, int]:
    """Write the converted digits (a seeded train/test split); returns the number of files per split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.images))
    n_test_all = int(round(test_fraction * len(order)))
    splits = {"Test": order[:n_test_all][:n_test], "Train": order[n_test_all:][:n_train]}
    out = Path(out)
    for split, indices in splits.items():
        for index in indices:
            events = image_to_saccade_events(digits.images[index], scale=SCALE)
            write_bin(out / split / str(int(digits.target[index])) / f"{int(index):04d}.bin", events)
            if progress:
                progress(1)
    return {split.lower(): len(indices) for split, indices in splits.items()}
