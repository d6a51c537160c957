"""Results stored per point as they finish: ``points/<key>.json``, one file per point, written atomically (a
temporary file renamed into place), so an interrupted exploration keeps every finished point and ``--resume``
recomputes none of them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from neuroport import jsonio
from neuroport.errors import NeuroportError


class PointStore:
    """The folder of per-point records (:func:`neuroport.explore.point.run_point`)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder) / "points"

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # a torn file cannot exist (atomic writes), but a hand-edited one is recomputed

    def done(self, key: str) -> bool:
        """A point is done when its record says ``ok``; failed points run again on ``--resume``."""
        record = self.get(key)
        return record is not None and record.get("status") == "ok"

    def put(self, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{record['key']}.{os.getpid()}.tmp"
        tmp.write_text(jsonio.dumps(record, indent=1))  # strict JSON: NaN/inf stored as null
        os.replace(tmp, self.path(record["key"]))

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []

    def require_resumable(self, resume: bool, overwrite: bool) -> None:
        """Refuse to mix a new run into a folder holding another run's results unless asked."""
        if self.keys() and not (resume or overwrite):
            raise NeuroportError(f"{self.folder} already holds {len(self.keys())} point results; pass --resume to "
                                 f"keep them and run only the missing points, --overwrite to recompute, or --out DIR")
