"""N-MNIST (Orchard et al. 2015) — or any folder in its layout — from local files, through tonic's reader and
transforms.  neuroport never downloads: point ``task.params.root`` at a folder holding ``Train/<digit>/*.bin``
and ``Test/<digit>/*.bin`` (the layout of N-MNIST's Train.zip / Test.zip once unpacked).

A sequence is one file: its events are read by ``tonic.io.read_mnist_file``, optionally denoised
(``tonic.transforms.Denoise``, ``denoise_us``) and downsampled (``Downsample``, integer ``downsample``), binned
by ``ToFrame`` into frames of ``bin_ms`` of recording (default: the model's dt, real time) over the first
``duration_ms`` of the recording, binarized and flattened to (T, polarities × height × width) input spikes,
T = duration_ms / bin_ms; a ``bin_ms`` larger than dt plays the recording faster (fewer, denser steps).  Target:
the file's class, one-hot, scored in the last ``recall_ms`` of the recording (default: all of it).  The first
steps stay silent as in every task (:data:`neuroport.tasks.poisson.SILENT_STEPS`).  Frames are cached in memory
(bit-packed, per file and encoding), so a file is read once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from neuroport.errors import ModelError
from neuroport.tasks import Batch
from neuroport.tasks.params import Param, duration, refuse
from neuroport.tasks.poisson import SILENT_STEPS, steps

SPLITS = {"train": ("Train", "train"), "test": ("Test", "test")}


def class_files(root: Path, split: str, n_classes: int) -> list[tuple[Path, int]]:
    """(file, label) for every ``<root>/<Split>/<label>/*.bin``; a clear error when the layout is not there."""
    folder = next((root / name for name in SPLITS[split] if (root / name).is_dir()), None)
    expected = f"expected {root}/{SPLITS[split][0]}/0 … {n_classes - 1}/*.bin (neuroport never downloads; see docs/howto/events.md)"
    if folder is None:
        raise ModelError(f"no {SPLITS[split][0]} folder under '{root}': {expected}", path="task.params.root")
    files = [(path, label) for label in range(n_classes) for path in sorted((folder / str(label)).glob("*.bin"))]
    if not files:
        raise ModelError(f"no .bin files under '{folder}': {expected}", path="task.params.root")
    return files


MAX_SENSOR_SIDE = 4096  # pixels; event cameras: ATIS 304 × 240 (N-MNIST: 34 × 34), Prophesee Gen4 1280 × 720


class NMNIST:
    loss = "cross_entropy"
    PARAMS = {
        "root": Param("string"), "split": Param("string", choices=tuple(SPLITS)),
        "sensor_size": Param("numbers", length=2, low=1, high=MAX_SENSOR_SIDE, why="pixels of an event camera"),
        "duration_ms": duration(), "recall_ms": duration(nullable=True), "downsample": Param("int", low=1, high=MAX_SENSOR_SIDE),
        "denoise_us": Param("number", low=0.0, high=1e3 * 1e7, nullable=True, why="µs, at most a sequence"),
        "bin_ms": duration(nullable=True),
    }

    @staticmethod
    def size_problem(p: dict, n_in: int, n_out: int) -> tuple[str, str] | None:
        if any(isinstance(v, float) and not v.is_integer() for v in p["sensor_size"]):
            return "task.params.sensor_size", f"expected whole pixel counts, got {p['sensor_size']}"
        width, height = (int(side) // p["downsample"] for side in p["sensor_size"])
        if width < 1 or height < 1:
            return "task.params.downsample", f"downsampling by {p['downsample']} leaves no pixel of a {p['sensor_size']} sensor"
        if n_in != 2 * width * height:
            return "input.size", (f"the input must have 2 × {width} × {height} = {2 * width * height} neurons for this "
                                  f"sensor and downsampling, got {n_in}")
        if p["recall_ms"] is not None and p["recall_ms"] > p["duration_ms"]:
            return "task.params.recall_ms", f"the recall window ({p['recall_ms']} ms) exceeds duration_ms ({p['duration_ms']})"
        return None

    @staticmethod
    def data_problem(p: dict, n_out: int) -> tuple[str, str] | None:
        """(path, message) when the dataset folder of the chosen split is missing or holds no file of a class."""
        try:
            class_files(Path(p["root"]).expanduser(), p.get("split", "train"), n_out)
        except ModelError as err:
            return "task.params.root", err.message + " (or give the folder with --data)"
        except OSError as err:
            return "task.params.root", f"cannot read '{p['root']}': {err.strerror or err}"
        return None

    @staticmethod
    def sequence_steps(p: dict, dt_ms: float) -> int:
        return steps(p["duration_ms"], p["bin_ms"] or dt_ms)

    def __init__(self, *, n_in: int, n_out: int, dt_ms: float, root: str, split: str = "train",
                 sensor_size: tuple[int, int] = (34, 34), duration_ms: float = 300.0, recall_ms: float | None = None,
                 downsample: int = 1, denoise_us: float | None = None, bin_ms: float | None = None) -> None:
        if split not in SPLITS:
            raise ModelError(f"split must be one of {sorted(SPLITS)}, got '{split}'", path="task.params.split")
        refuse(self.size_problem({"sensor_size": sensor_size, "downsample": int(downsample), "recall_ms": recall_ms,
                                  "duration_ms": duration_ms}, n_in, n_out))
        width, height = (int(s) // int(downsample) for s in sensor_size)
        self.n_in, self.n_out, self.dt_ms = n_in, n_out, dt_ms
        self.sensor = (int(sensor_size[0]), int(sensor_size[1]), 2)
        self.frame_size = (width, height, 2)
        self.downsample, self.denoise_us = int(downsample), denoise_us
        self.bin_us = 1e3 * (bin_ms or dt_ms)
        self.n_steps = steps(duration_ms, bin_ms or dt_ms)
        self.recall_steps = self.n_steps if recall_ms is None else steps(recall_ms, bin_ms or dt_ms)
        self.files = class_files(Path(root).expanduser(), split, n_out)

    def spikes(self, path: Path) -> np.ndarray:
        """(n_steps, n_in) 0/1 input spikes of one file."""
        packed = _frames(str(path), Path(path).stat().st_mtime_ns, self.sensor, self.downsample, self.denoise_us, self.bin_us, self.n_steps)
        out = np.unpackbits(packed, axis=1, count=self.n_in)
        out[:SILENT_STEPS] = 0
        return out

    def sequences(self, indices) -> Batch:
        """The files ``indices`` (into :attr:`files`) as one batch, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        inputs = np.stack([self.spikes(self.files[i][0]) for i in indices])
        labels = np.array([self.files[i][1] for i in indices], dtype=np.int64)
        targets = np.zeros((len(indices), self.n_steps, self.n_out))
        targets[np.arange(len(indices)), :, labels] = 1.0
        mask = np.zeros((len(indices), self.n_steps), dtype=bool)
        mask[:, -self.recall_steps:] = True
        return Batch(inputs=inputs, targets=targets, loss_mask=mask, labels=labels)

    def batch(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """``batch_size`` files drawn uniformly with replacement."""
        return self.sequences(rng.integers(0, len(self.files), batch_size))


@lru_cache(maxsize=100_000)
def _frames(path: str, mtime_ns: int, sensor: tuple[int, int, int], downsample: int, denoise_us: float | None, bin_us: float,
            n_steps: int) -> np.ndarray:
    """Bit-packed (n_steps, ⌈n_in / 8⌉) frames of one file (see the module docstring); ``mtime_ns`` keys the
    cache to the file's version."""
    from tonic import transforms

    from neuroport.tasks.events import read_bin

    events = read_bin(path)
    if denoise_us:
        events = transforms.Denoise(filter_time=denoise_us)(events)
    if downsample > 1:
        events = transforms.Downsample(spatial_factor=1.0 / downsample)(events)
    frame_size = (sensor[0] // downsample, sensor[1] // downsample, 2)
    frames = transforms.ToFrame(sensor_size=frame_size, time_window=bin_us, start_time=0,
                                end_time=n_steps * bin_us)(events)
    flat = (np.asarray(frames) > 0).reshape(len(frames), -1)[:n_steps]
    out = np.zeros((n_steps, 2 * frame_size[0] * frame_size[1]), dtype=np.uint8)
    out[: len(flat)] = flat
    return np.packbits(out, axis=1)
