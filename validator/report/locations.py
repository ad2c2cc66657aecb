"""Where a finding stands, as CI formats need it: a file relative to the repository, or a live object."""

from __future__ import annotations

import os

from ..model import Source

CLUSTER_PREFIX = "cluster:"


def is_file(source: Source | None) -> bool:
    """True for a finding in a file (not in a live cluster read with --kubeconfig, nor in no place at all)."""
    return source is not None and bool(source.file) and not source.file.startswith(CLUSTER_PREFIX)


def relative_path(file: str) -> str:
    """The file relative to the current folder with forward slashes; absolute if it lies outside it.

    os.path rather than pathlib, which costs a lint's start-up some 1.5 ms to import.
    """
    if file.startswith("<"):
        return file
    path = file
    if os.path.isabs(path):
        real, here = os.path.realpath(path), os.path.realpath(os.getcwd())
        if os.path.commonpath([real, here]) != here:
            return os.path.normpath(path).replace(os.sep, "/")
        path = os.path.relpath(real, here)
    return os.path.normpath(path).replace(os.sep, "/")
