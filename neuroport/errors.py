"""User-facing errors.

Every error a user can cause (a malformed model file, a bad hardware config, a missing optional dependency)
is a :class:`NeuroportError`.  The CLI prints its message and exits non-zero; it never shows a traceback.
"""

from __future__ import annotations


class NeuroportError(Exception):
    """An error the user can fix; ``str(err)`` is the whole message.

    Parameters
    ----------
    message:
        What was wrong and what was expected.
    file:
        The file the problem is in, if any.
    path:
        The YAML path of the offending field, e.g. ``populations[1].tau_m_ms``.
    """

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None) -> None:
        self.message = message
        self.file = file
        self.path = path
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.file and self.path:
            where = f"{self.file}: {self.path}: "
        elif self.file:
            where = f"{self.file}: "
        elif self.path:
            where = f"{self.path}: "
        return f"{where}{self.message}"


class ModelError(NeuroportError):
    """A model file (model.yaml, NIR, weights .npz) is malformed or inconsistent."""


class HwConfigError(NeuroportError):
    """A hardware config (hw_configs/*.yaml) is malformed."""


class ArtifactError(NeuroportError):
    """A compiled artifact is corrupt, truncated or of an unsupported version."""


class MissingDependencyError(NeuroportError):
    """An optional vendor library is not installed."""

    def __init__(self, library: str, extra: str) -> None:
        super().__init__(
            f"this needs the '{library}' package, which is not installed; "
            f"install it with: pip install 'neuroport[{extra}]' (or run `make demo`, which installs everything)"
        )
        self.library = library
        self.extra = extra


class UnsupportedError(NeuroportError):
    """A model feature that a stage or target cannot express."""
