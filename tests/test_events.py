"""N-MNIST event files: our writer and tonic's own reader agree exactly; overflow markers; frames; the N-MNIST
task on a synthetic folder; the digits converter; clear errors for a missing dataset."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tonic")

from neuroport.errors import ModelError  # noqa: E402
from neuroport.tasks.events import EVENT_DTYPE, encode_bin, read_bin, write_bin  # noqa: E402
from neuroport.tasks.nmnist import NMNIST  # noqa: E402


def random_events(rng: np.random.Generator, n: int, t_max_us: int, side: int = 34) -> np.ndarray:
    ev = np.zeros(n, EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, side, n), rng.integers(0, side, n)
    ev["t"], ev["p"] = np.sort(rng.integers(0, t_max_us, n)), rng.integers(0, 2, n)
    return ev


def test_round_trip_exact(tmp_path):
    events = random_events(np.random.default_rng(0), 2000, 300_000)
    back = read_bin(write_bin(tmp_path / "a.bin", events))
    np.testing.assert_array_equal(back, events)
    assert len(encode_bin(events)) == 5 * len(events)


def test_long_recordings_use_overflow_markers(tmp_path):
    """Timestamps past 2^23 µs are written with y = 240 markers, which tonic turns into +2^13 µs each."""
    events = random_events(np.random.default_rng(1), 50, 2**23 + 40_000)
    events["t"][-3:] = [2**23, 2**23 + 8191, 2**23 + 30_000]
    events = events[np.argsort(events["t"], kind="stable")]
    raw = encode_bin(events)
    markers = sum(1 for k in range(0, len(raw), 5) if raw[k + 1] == 240)
    assert markers >= 1 and len(raw) == 5 * (len(events) + markers)
    np.testing.assert_array_equal(read_bin(write_bin(tmp_path / "b.bin", events)), events)


def test_hand_written_overflow_marker_as_tonic_reads_it(tmp_path):
    """One event, a marker, one event: the second is read 2^13 µs later than its stored stamp."""
    path = tmp_path / "c.bin"
    path.write_bytes(bytes([1, 2, 0x80, 0, 5]) + bytes([0, 240, 0, 0, 0]) + bytes([3, 4, 0, 0, 7]))
    back = read_bin(path)
    assert back.tolist() == [(1, 2, 5, 1), (3, 4, 7 + 2**13, 0)]


def synthetic_folder(root, n_per_class: int = 2, classes: int = 3):
    rng = np.random.default_rng(2)
    for split in ("Train", "Test"):
        for label in range(classes):
            for k in range(n_per_class):
                write_bin(root / split / str(label) / f"{k}.bin", random_events(rng, 400, 50_000))


def test_nmnist_task_frames(tmp_path):
    synthetic_folder(tmp_path)
    task = NMNIST(n_in=2 * 34 * 34, n_out=3, dt_ms=1.0, root=str(tmp_path), duration_ms=50, recall_ms=10)
    batch = task.batch(np.random.default_rng(0), 4)
    assert batch.inputs.shape == (4, 50, 2312) and batch.inputs.dtype == np.uint8
    assert batch.inputs[:, :2].sum() == 0 and set(np.unique(batch.inputs)) <= {0, 1}
    assert batch.loss_mask[:, -10:].all() and not batch.loss_mask[:, :-10].any()
    np.testing.assert_array_equal(batch.targets[np.arange(4), 0].argmax(axis=1), batch.labels)
    # frames hold exactly the distinct (step, polarity, pixel) of the file's events from step 2 on
    path, _ = task.files[0]
    ev = read_bin(path)
    keep = ev["t"] // 1000 >= 2
    distinct = {(int(t) // 1000, int(p), int(y), int(x)) for x, y, t, p in ev[keep][["x", "y", "t", "p"]]}
    assert task.spikes(path).sum() == len(distinct)


def test_nmnist_downsampled_input_size(tmp_path):
    synthetic_folder(tmp_path)
    with pytest.raises(ModelError, match="2 × 17 × 17 = 578"):
        NMNIST(n_in=2312, n_out=3, dt_ms=1.0, root=str(tmp_path), downsample=2)
    task = NMNIST(n_in=578, n_out=3, dt_ms=1.0, root=str(tmp_path), downsample=2, duration_ms=50)
    assert task.batch(np.random.default_rng(0), 2).inputs.shape == (2, 50, 578)


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError) as err:
        NMNIST(n_in=2312, n_out=10, dt_ms=1.0, root=str(tmp_path / "nowhere"))
    assert err.value.path == "task.params.root" and "never downloads" in str(err.value)
    (tmp_path / "Train" / "0").mkdir(parents=True)
    with pytest.raises(ModelError, match="no .bin files"):
        NMNIST(n_in=2312, n_out=10, dt_ms=1.0, root=str(tmp_path))


def test_digits_converter_round_trips(tmp_path):
    from neuroport.tasks.digits_events import SENSOR, convert_digits

    counts = convert_digits(tmp_path, n_train=6, n_test=3)
    assert counts == {"test": 3, "train": 6}
    files = sorted((tmp_path / "Train").glob("*/*.bin"))
    assert len(files) == 6
    events = read_bin(files[0])
    assert len(events) > 1000 and events["x"].max() < SENSOR and events["y"].max() < SENSOR
    assert set(np.unique(events["p"])) == {0, 1} and events["t"].max() < 300_000
    task = NMNIST(n_in=2 * SENSOR * SENSOR, n_out=10, dt_ms=1.0, root=str(tmp_path), sensor_size=(SENSOR, SENSOR))
    assert task.batch(np.random.default_rng(0), 2).inputs.sum() > 1000


def test_train_with_data_option(tmp_path):
    """`neuroport train examples/digits_events.yaml --data FOLDER`: the folder replaces task.params.root."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from neuroport.cli import cli
    from neuroport.tasks.digits_events import convert_digits

    convert_digits(tmp_path / "digits", n_train=20, n_test=5)
    model = Path(__file__).resolve().parents[1] / "examples" / "digits_events.yaml"
    out = tmp_path / "trained"
    result = CliRunner().invoke(cli, ["train", str(model), "--data", str(tmp_path / "digits"), "-i", "1", "--batch-size", "2",
                                      "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads((out / "curve.json").read_text())["history"]) == 1
    missing = CliRunner().invoke(cli, ["train", str(model), "--data", str(tmp_path / "none"), "-i", "1"])
    assert isinstance(missing.exception, ModelError) and "never downloads" in str(missing.exception)


def test_bin_ms_plays_the_recording_faster(tmp_path):
    """bin_ms = 3: each step holds 3 ms of events, duration and recall count recording time; frames are cached."""
    synthetic_folder(tmp_path)
    kw = dict(n_in=2312, n_out=3, dt_ms=1.0, root=str(tmp_path), duration_ms=48, recall_ms=12)
    slow, fast = NMNIST(**kw), NMNIST(**kw, bin_ms=3)
    assert (slow.n_steps, fast.n_steps, fast.recall_steps) == (48, 16, 4)
    path, _ = fast.files[0]
    ev = read_bin(path)
    keep = (ev["t"] // 3000 >= 2) & (ev["t"] < 48_000)
    distinct = {(int(t) // 3000, int(p), int(y), int(x)) for x, y, t, p in ev[keep][["x", "y", "t", "p"]]}
    assert fast.spikes(path).sum() == len(distinct)
    np.testing.assert_array_equal(fast.spikes(path), fast.spikes(path))
    batch = fast.sequences([3, 0])
    assert batch.labels.tolist() == [fast.files[3][1], fast.files[0][1]] and batch.loss_mask[:, -4:].all()


def test_digits_example_encoding(tmp_path):
    """examples/digits_events.yaml: 512 inputs (16 × 16 × 2), 100 steps of 3 ms, loss in the last 50."""
    from pathlib import Path

    from neuroport.commands.common import load_any_model
    from neuroport.tasks import task_of
    from neuroport.tasks.digits_events import convert_digits

    convert_digits(tmp_path, n_train=3, n_test=1)
    graph = load_any_model(Path(__file__).resolve().parents[1] / "examples" / "digits_events.yaml", str(tmp_path))
    batch = task_of(graph).batch(np.random.default_rng(0), 2)
    assert batch.inputs.shape == (2, 100, 512) and batch.loss_mask.sum(axis=1).tolist() == [50, 50]
