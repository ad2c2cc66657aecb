"""Where `lint` sends its renderings: standard output and files, several formats from one lint.

A file is written whole or not at all: the text goes to a temporary file in the same folder, which is
flushed to disk and then renamed into place, so a CI step never uploads a 0-byte or half-written SARIF or
JUnit file (a shell redirect `> out.sarif` creates the file before the linter has run). An existing file
is kept unless `--force` is given, as everywhere in this project; the check is made before linting, for a
quick usage error, and again at the rename (a hard link, which refuses an existing name), so a file that
appears meanwhile is not overwritten either.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from typing import IO, NamedTuple


class OutputError(Exception):
    """A destination that cannot be used: exit status 2 with this message."""


class Output(NamedTuple):
    """One rendering: a format and its file (None: standard output)."""

    fmt: str
    path: str | None = None


def plan(outputs: Iterable[Output], output_file: str | None) -> list[Output]:
    """The renderings to make: `--format F[=FILE]` (repeatable) and `--output FILE` for the one without a
    file; text on standard output when no format is named. At most one rendering goes to standard output,
    and no file is named twice."""
    chosen = list(outputs) or [Output("text")]
    to_stdout = [o for o in chosen if o.path is None]
    if output_file is not None:
        if len(to_stdout) != 1:
            raise OutputError("--output FILE is for the one --format without =FILE; "
                              f"{len(to_stdout)} formats have none")
        chosen = [Output(o.fmt, output_file) if o.path is None else o for o in chosen]
    elif len(to_stdout) > 1:
        raise OutputError(f"formats {', '.join(o.fmt for o in to_stdout)} would all go to standard output; "
                          "give all but one a file: --format FORMAT=FILE")
    seen: dict[str, str] = {}
    for o in chosen:
        if o.path is None:
            continue
        key = os.path.realpath(o.path)
        if key in seen:
            raise OutputError(f"{o.path}: named for both {seen[key]} and {o.fmt}")
        seen[key] = o.fmt
    return chosen


def check_destination(path: str, force: bool) -> None:
    """Refuse, before any work, a file that exists (without --force), a folder, or a missing folder."""
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a folder, not a file to write the report to")
    if os.path.lexists(path) and not force:
        raise OutputError(f"{path}: exists; pass --force to overwrite it")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise OutputError(f"{path}: no such folder: {folder}")


def write_atomically(path: str, text: str, force: bool) -> None:
    """Write the whole text to `path` or leave `path` as it was. Raises OutputError."""
    import tempfile  # not at start-up: most runs write no file

    folder = os.path.dirname(path) or "."
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as err:
        raise OutputError(f"{path}: cannot write: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o666 & ~_umask())
        _put_in_place(temp, path, force)
    except OSError as err:
        raise OutputError(f"{path}: cannot write: {err.strerror or err}") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _put_in_place(temp: str, path: str, force: bool) -> None:
    if force:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)  # fails if the name exists: no window in which a new file is overwritten
    except FileExistsError as err:
        raise OutputError(f"{path}: exists; pass --force to overwrite it") from err
    except OSError:  # a file system without hard links: the check-then-rename fallback
        if os.path.lexists(path):
            raise OutputError(f"{path}: exists; pass --force to overwrite it") from None
        os.replace(temp, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def use_color(no_color: bool, stream: IO[str], environ: Mapping[str, str] = os.environ) -> bool:
    """ANSI colour for text on a terminal: `--no-color` and a non-empty `NO_COLOR` (no-color.org) turn it
    off, a non-empty `FORCE_COLOR` turns it on for a pipe too; otherwise only when the stream is a TTY."""
    if no_color or environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def append_step_summary(markdown: str, environ: Mapping[str, str] = os.environ) -> None:
    """Append to the GitHub Actions job summary when the runner names its file (`$GITHUB_STEP_SUMMARY`);
    the runner's own file, appended to as GitHub documents, not replaced."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    except OSError as err:
        raise OutputError(f"$GITHUB_STEP_SUMMARY {path}: cannot append: {err.strerror or err}") from err
