"""Event files in the N-MNIST ``.bin`` layout (Orchard et al. 2015), written by neuroport and read by tonic.

Each event is 5 bytes: x, y, then the polarity in bit 7 with bits 22..16 of a 23-bit microsecond timestamp, then
bits 15..8 and 7..0.  An event with y = 240 is a timestamp-overflow marker: tonic's reader
(``tonic.io.read_mnist_file``) adds 2^13 µs to every later event and drops the marker.  Timestamps of 2^23 µs
(8.4 s) and more are written with such markers.

:func:`image_to_saccade_events` turns a still image into N-MNIST-style events the way the ATIS camera saw the
MNIST digits: the image moves through three saccades (right-down, left-down, up: a triangle), and a pixel emits an
ON (OFF) event each time its log intensity has risen (fallen) by ``threshold`` since its last event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
TS_BITS = 23
OVERFLOW_Y = 240
OVERFLOW_STEP_US = 2**13  # what tonic's reader adds per overflow marker


def encode_bin(events: np.ndarray) -> bytes:
    """Events (structured x, y, t [µs], p) sorted by t → N-MNIST bytes, with overflow markers where needed."""
    events = np.asarray(events)
    events = events[np.argsort(events["t"], kind="stable")]  # by time only; equal stamps keep their order
    if events.size and (events["x"].max() > 255 or events["y"].max() > 239 or events["t"].min() < 0):
        raise ValueError("N-MNIST events need 0 ≤ x ≤ 255, 0 ≤ y ≤ 239 and t ≥ 0")
    chunks, offset = [], 0
    for event in events:
        while event["t"] - offset >= 2**TS_BITS:
            chunks.append(bytes([0, OVERFLOW_Y, 0, 0, 0]))
            offset += OVERFLOW_STEP_US
        ts = int(event["t"] - offset)
        chunks.append(bytes([int(event["x"]), int(event["y"]), (int(event["p"]) << 7) | (ts >> 16), (ts >> 8) & 255, ts & 255]))
    return b"".join(chunks)


def write_bin(path: str | Path, events: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_bin(events))
    return path


def read_bin(path: str | Path) -> np.ndarray:
    """Read with tonic's own N-MNIST reader; returns structured x, y, t (µs), p."""
    from tonic.io import read_mnist_file

    raw = read_mnist_file(str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    out = np.empty(raw.size, EVENT_DTYPE)
    for name in EVENT_DTYPE.names:
        out[name] = raw[name]
    return out


def sensor_side(image_side: int, scale: int, border: int = 1) -> int:
    """Side of the square sensor that holds the upscaled image at every saccade position."""
    return image_side * scale + 2 * scale + 2 * border


def image_to_saccade_events(image: np.ndarray, *, scale: int = 3, border: int = 1, saccade_ms: float = 100.0,
                            threshold: float = 0.15, steps_per_saccade: int = 50) -> np.ndarray:
    """N-MNIST-style events of a grey image (values ≥ 0): the image is upscaled by ``scale``, centred on a sensor
    of :func:`sensor_side` pixels and moved by one original pixel along the three saccade edges; every
    ``saccade_ms / steps_per_saccade`` the log intensity of each sensor pixel is compared with its value at its
    last event."""
    img = np.kron(np.asarray(image, dtype=np.float64) / max(float(np.max(image)), 1e-12), np.ones((scale, scale)))
    size = sensor_side(np.shape(image)[0], scale, border)
    path = [(0.0, 0.0), (1.0, 1.0), (-1.0, 1.0), (0.0, 0.0)]  # right-down, left-down, back up: three saccades
    reference = None
    events = []
    dt_us = saccade_ms * 1e3 / steps_per_saccade
    for leg in range(3):
        (x0, y0), (x1, y1) = path[leg], path[leg + 1]
        for k in range(steps_per_saccade):
            f = k / steps_per_saccade
            frame = _place(img, size, scale * (x0 + f * (x1 - x0)), scale * (y0 + f * (y1 - y0)))
            log_i = np.log(frame + 0.05)
            if reference is None:
                reference = log_i
                continue
            t_us = int(round((leg * steps_per_saccade + k) * dt_us))
            for polarity, mask in ((1, log_i - reference >= threshold), (0, reference - log_i >= threshold)):
                ys, xs = np.nonzero(mask)
                events += [(x, y, t_us, polarity) for y, x in zip(ys, xs, strict=True)]
                reference[mask] = log_i[mask]
    return np.array(events, dtype=EVENT_DTYPE)


def _place(img: np.ndarray, size: int, dx: float, dy: float) -> np.ndarray:
    """``img`` centred on a size × size canvas, shifted by (dx, dy) pixels (bilinear interpolation)."""
    canvas = np.zeros((size, size))
    ix, iy = int(np.floor(dx)), int(np.floor(dy))
    fx, fy = dx - ix, dy - iy
    h, w = img.shape
    for oy, ox, weight in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        top, left = (size - h) // 2 - 1 + iy + oy, (size - w) // 2 - 1 + ix + ox
        canvas[top:top + h, left:left + w] += weight * img
    return canvas
