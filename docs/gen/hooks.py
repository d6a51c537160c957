"""MkDocs hook: nav entries listed in OPTIONAL are dropped while their page does not exist yet, so that the strict
build passes before those pages land; every other missing page still fails the build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

OPTIONAL = {"howto/explore.md", "howto/eventprop.md", "howto/nest-conventions.md"}


def _prune(items: list[Any], docs_dir: Path) -> list[Any]:
    kept = []
    for item in items:
        if isinstance(item, dict):
            (title, value), = item.items()
            if isinstance(value, list):
                kept.append({title: _prune(value, docs_dir)})
            elif not (value in OPTIONAL and not (docs_dir / value).exists()):
                kept.append(item)
        elif not (item in OPTIONAL and not (docs_dir / item).exists()):
            kept.append(item)
    return kept


def on_config(config: Any) -> Any:
    config["nav"] = _prune(config["nav"], Path(config["docs_dir"]))
    return config
