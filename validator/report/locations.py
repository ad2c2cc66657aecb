"""Where a finding stands, as CI formats need it: a file relative to the repository, or a live object."""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from ..model import Source

CLUSTER_PREFIX = "cluster:"


def is_file(source: Source | None) -> bool:
    """True for a finding in a file (not in a live cluster read with --kubeconfig, nor in no place at all)."""
    return source is not None and bool(source.file) and not source.file.startswith(CLUSTER_PREFIX)


def relative_path(file: str) -> str:
    """The file relative to the current folder with forward slashes; absolute if it lies outside it."""
    if file.startswith("<"):
        return file
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(Path.cwd().resolve())
        except (ValueError, OSError):
            return path.as_posix()
    return PurePath(os.path.normpath(path)).as_posix()
