"""N-MNIST (Orchard et al. 2015) — or any folder in its layout — from local files, through tonic's reader and
transforms.  neuroport never downloads: point ``task.params.root`` at a folder holding ``Train/<digit>/*.bin``
and ``Test/<digit>/*.bin`` (the layout of N-MNIST's Train.zip / Test.zip once unpacked).

A sequence is one file: its events are read by ``tonic.io.read_mnist_file``, optionally denoised
(``tonic.transforms.Denoise``, ``denoise_us``) and downsampled (``Downsample``, integer ``downsample``), binned
by ``ToFrame`` into frames of the model's dt over ``duration_ms``, binarized and flattened to
(T, polarities × height × width) input spikes.  Target: the file's class, one-hot, scored in the last
``recall_ms`` (default: the whole sequence).  The first steps stay silent as in every task
(:data:`neuroport.tasks.poisson.SILENT_STEPS`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroport.errors import ModelError
from neuroport.tasks import Batch
from neuroport.tasks.poisson import SILENT_STEPS, steps

SPLITS = {"train": ("Train", "train"), "test": ("Test", "test")}


def class_files(root: Path, split: str, n_classes: int) -> list[tuple[Path, int]]:
    """(file, label) for every ``<root>/<Split>/<label>/*.bin``; a clear error when the layout is not there."""
    folder = next((root / name for name in SPLITS[split] if (root / name).is_dir()), None)
    expected = f"expected {root}/{SPLITS[split][0]}/0 … {n_classes - 1}/*.bin (neuroport never downloads; see the README)"
    if folder is None:
        raise ModelError(f"no {SPLITS[split][0]} folder under '{root}': {expected}", path="task.params.root")
    files = [(path, label) for label in range(n_classes) for path in sorted((folder / str(label)).glob("*.bin"))]
    if not files:
        raise ModelError(f"no .bin files under '{folder}': {expected}", path="task.params.root")
    return files


class NMNIST:
    loss = "cross_entropy"

    def __init__(self, *, n_in: int, n_out: int, dt_ms: float, root: str, split: str = "train",
                 sensor_size: tuple[int, int] = (34, 34), duration_ms: float = 300.0, recall_ms: float | None = None,
                 downsample: int = 1, denoise_us: float | None = None) -> None:
        if split not in SPLITS:
            raise ModelError(f"split must be one of {sorted(SPLITS)}, got '{split}'", path="task.params.split")
        width, height = (int(s) // int(downsample) for s in sensor_size)
        if n_in != 2 * width * height:
            raise ModelError(f"the input must have 2 × {width} × {height} = {2 * width * height} neurons for this "
                             f"sensor and downsampling, got {n_in}", path="input.size")
        self.n_in, self.n_out, self.dt_ms = n_in, n_out, dt_ms
        self.sensor = (int(sensor_size[0]), int(sensor_size[1]), 2)
        self.frame_size = (width, height, 2)
        self.downsample, self.denoise_us = int(downsample), denoise_us
        self.n_steps = steps(duration_ms, dt_ms)
        self.recall_steps = self.n_steps if recall_ms is None else steps(recall_ms, dt_ms)
        self.files = class_files(Path(root).expanduser(), split, n_out)

    def spikes(self, path: Path) -> np.ndarray:
        """(n_steps, n_in) 0/1 input spikes of one file."""
        from tonic import transforms

        from neuroport.tasks.events import read_bin

        events = read_bin(path)
        chain = []
        if self.denoise_us:
            chain.append(transforms.Denoise(filter_time=self.denoise_us))
        if self.downsample > 1:
            chain.append(transforms.Downsample(spatial_factor=1.0 / self.downsample))
        for transform in chain:
            events = transform(events)
        dt_us = self.dt_ms * 1e3
        frames = transforms.ToFrame(sensor_size=self.frame_size, time_window=dt_us, start_time=0,
                                    end_time=self.n_steps * dt_us)(events)
        out = np.zeros((self.n_steps, self.n_in), dtype=np.uint8)
        flat = (np.asarray(frames) > 0).reshape(len(frames), -1)[: self.n_steps]
        out[: len(flat)] = flat
        out[:SILENT_STEPS] = 0
        return out

    def batch(self, rng: np.random.Generator, batch_size: int) -> Batch:
        picks = rng.integers(0, len(self.files), batch_size)
        inputs = np.stack([self.spikes(self.files[i][0]) for i in picks])
        labels = np.array([self.files[i][1] for i in picks], dtype=np.int64)
        targets = np.zeros((batch_size, self.n_steps, self.n_out))
        targets[np.arange(batch_size), :, labels] = 1.0
        mask = np.zeros((batch_size, self.n_steps), dtype=bool)
        mask[:, -self.recall_steps:] = True
        return Batch(inputs=inputs, targets=targets, loss_mask=mask, labels=labels)
