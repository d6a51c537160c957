"""Writing output files safely: every writer of neuroport (artifacts, models, curves, plots, HTML) goes through here.

* A model's ``name`` is text from a file, not a path: :func:`default_folder` turns it into one safe folder name
  (letters, digits, ``.``, ``_``, ``-``) and checks that the folder stays inside the default parent (``build/``).
* Every write failure — a folder that cannot be created (``-o /proc/x``, a path under a file, a read-only file
  system), a full device (``/dev/full``), a path with a NUL byte — is an :class:`OutputError` naming the path and
  the operating system's reason: the CLI prints it as one ``error:`` line.
* Nothing reports success without having written: :func:`open_output` flushes and closes the file inside the
  check, so an error that only shows when buffered data reaches the device (a full disk) is still caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from neuroport.errors import NeuroportError

DEFAULT_PARENT = Path("build")
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_CHARS = 100  # well below the 255 bytes a file name may have on common file systems


class OutputError(NeuroportError):
    """An output file or folder could not be written."""


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def safe_name(name: str) -> str:
    """A single, harmless path component for ``name``: runs of other characters become ``_``, leading dots and
    separators are dropped (no ``..``, no hidden file), at most ``MAX_NAME_CHARS``; ``model`` if nothing is left."""
    cleaned = UNSAFE.sub("_", str(name)).lstrip("._-")[:MAX_NAME_CHARS]
    return cleaned or "model"


def default_folder(name: str, suffix: str, parent: str | Path = DEFAULT_PARENT) -> Path:
    """``parent/<safe name>-<suffix>``, the default output folder of a model; refuses one outside ``parent``."""
    folder = Path(parent) / f"{safe_name(name)}-{safe_name(suffix)}"
    if Path(parent).resolve() not in folder.resolve().parents:
        raise OutputError(f"the output folder derived from the model name {name!r} is not inside {parent}", file=str(folder))
    return folder


def make_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if needed; an :class:`OutputError` naming it and the reason if not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError("cannot create the output folder: a file of that name is in the way", file=str(folder)) from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot create the output folder ({_reason(exc)})", file=str(folder)) from None
    return folder


@contextmanager
def open_output(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open ``path`` for writing; the file is flushed and closed inside the check, and any failure (opening,
    writing, flushing, closing) becomes an :class:`OutputError` naming the path and the OS reason."""
    path = Path(path)
    try:
        with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot write ({_reason(exc)})", file=str(path)) from None


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path``, checked (:func:`open_output`)."""
    with open_output(path, "w") as handle:
        handle.write(text)
    return Path(path)


@contextmanager
def writing(path: str | Path) -> Iterator[Path]:
    """For a library that writes ``path`` itself (NIR's HDF5, a backend's artifact): its OSError becomes an
    :class:`OutputError` naming ``path``."""
    try:
        yield Path(path)
    except OSError as exc:
        raise OutputError(f"cannot write ({_reason(exc)})", file=str(getattr(exc, "filename", None) or path)) from None
