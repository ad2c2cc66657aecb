"""Reading YAML from files, folders and standard input without ever letting bad input escape as a traceback.

Every way a file can be unusable (unreadable, binary, not UTF-8, too large, broken YAML, an alias bomb, a
folder that links back into itself) becomes a located `yaml-invalid` finding, and the other files are still
read. Documents are composed one at a time by libyaml (through PyYAML) so that each object keeps the line
it starts on; only those of a kind we read are built, by construct.Builder (unknown tags are data).
"""

from __future__ import annotations

import gc
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import yaml

from ..model import Cluster, Finding, Skipped, Source
from .construct import Builder, MemoResolver, ReadProblem, expansion
from .manifests import may_hold_objects, objects_from_document
from .selection import HELM_TEMPLATE_REASON, Excluder, is_helm_template, looks_like_ours, unparsed_reason

STDIN = "-"
STDIN_NAME = "<stdin>"
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_EXPANDED_NODES = 1_000_000
MAX_NESTING = 512  # Kubernetes objects nest a few dozen levels; PyYAML's C composer recurses per level
_BLOCK_INDICATORS = 100  # a line's leading run of " ?:-" bounds its block nesting (2 levels per character)
_DEEP_RUN = rf"[ \t?:-]{{{_BLOCK_INDICATORS}}}"
_DEEP_FIRST_LINE = re.compile(_DEEP_RUN)
_DEEP_LINE = re.compile("\n" + _DEEP_RUN)  # a literal first character: a fast scan
_DEEP_LINE_ANY_BREAK = "[\n\r\x85\u2028\u2029]" + _DEEP_RUN  # every break YAML knows; compiled if needed
_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.MULTILINE)
YAML_SUFFIXES = (".yaml", ".yml")

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]
_Parser: Any = getattr(getattr(yaml, "cyaml", None), "CParser", None)  # None: PyYAML without libyaml


if _Parser is not None:
    class _Reader(_Parser, MemoResolver):  # type: ignore[misc]
        """libyaml's parser and composer with the memoised resolver; documents are built by Builder."""

        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            MemoResolver.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    class _Reader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,  # type: ignore[no-redef]
                  yaml.composer.Composer, MemoResolver):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            MemoResolver.__init__(self)


class PathError(Exception):
    """A path given on the command line that does not exist: a usage error, not a finding."""


class Document(NamedTuple):
    """One parsed YAML document and the 1-based line its root node starts on."""

    data: Any
    line: int
    node: yaml.Node


SYNTAX = "syntax"  # the subject of the yaml-invalid finding that ends a stream: the file does not parse


def input_problem(file: str, line: int, message: str, hint: str = "", subject: str = "") -> Finding:
    from ..rules import REGISTRY  # the rule's severity is the registry's; imported when a file is bad

    return Finding("yaml-invalid", REGISTRY["yaml-invalid"].severity, message, None, Source(file, line), hint,
                   subject=subject)


def discover(paths: Iterable[str], exclude: Excluder | None = None) -> tuple[list[str], list[Finding]]:
    """Expand PATHs into the files to read: folders recursively (*.yaml, *.yml), hidden folders skipped.

    Symbolic links to folders are followed once; a link back into a folder already being walked is
    reported and not followed, so a loop cannot hang the linter. `exclude` applies to what the walk finds,
    not to PATHs named themselves (as ruff does): a file named on the command line is always read.
    """
    files: list[str] = []
    problems: list[Finding] = []
    for path in paths:
        if path == STDIN:
            files.append(STDIN)
        elif os.path.isdir(path):
            _walk(path, files, problems, exclude or Excluder())
        elif os.path.exists(path) or os.path.islink(path):
            files.append(os.path.normpath(path))
        else:
            raise PathError(f"no such file or folder: {path}")
    return files, problems


def _walk(root: str, files: list[str], problems: list[Finding], exclude: Excluder) -> None:
    stack: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    walked: set[str] = set()
    while stack:
        folder, ancestors = stack.pop()
        real = os.path.realpath(folder)
        if real in ancestors:
            problems.append(input_problem(folder, 1,
                                          f"folder loop: {folder} leads back to {real}; not followed"))
            continue
        if real in walked:
            continue  # reached again through another link: its files are already listed
        walked.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            problems.append(input_problem(folder, 1, f"cannot list folder: {err.strerror or err}"))
            continue
        below = ancestors | {real}
        subfolders: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if exclude and exclude.excludes(entry.path, is_dir):
                continue
            if is_dir:
                subfolders.append(entry.path)
            elif entry.name.endswith(YAML_SUFFIXES):
                if _is_special(entry):
                    problems.append(input_problem(os.path.normpath(entry.path), 1,
                                                  "not a regular file (a FIFO, socket or device); not read"))
                else:
                    files.append(os.path.normpath(entry.path))
        stack.extend((sub, below) for sub in reversed(subfolders))


def _is_special(entry: os.DirEntry[str]) -> bool:
    """A FIFO, socket or device found while walking: reading one could block forever. A dangling link is
    not special: reading it fails, and that failure is reported where it happens."""
    try:
        return not stat.S_ISREG(entry.stat().st_mode)
    except OSError:
        return False


def read_text(name: str, max_bytes: int) -> tuple[str | None, Finding | None]:
    """The file's text, or the reason it cannot be linted (located at the line where it goes wrong).

    A regular file larger than the limit is refused from its size alone, before anything is read.
    """
    label = STDIN_NAME if name == STDIN else name
    try:
        if name == STDIN:
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with open(name, "rb") as handle:
                if os.fstat(handle.fileno()).st_size > max_bytes:
                    return None, _too_large(label, max_bytes)
                data = handle.read(max_bytes + 1)
    except OSError as err:
        return None, input_problem(label, 1, f"cannot read: {err.strerror or err}")
    if len(data) > max_bytes:
        return None, _too_large(label, max_bytes)
    return decode(label, data)


def _too_large(label: str, max_bytes: int) -> Finding:
    return input_problem(label, 1, f"file is larger than the {max_bytes:,}-byte limit; not linted",
                         "raise --max-file-size, or split the file")


def decode(label: str, data: bytes) -> tuple[str | None, Finding | None]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as err:
            return None, input_problem(label, 1, f"not valid UTF-16: {err.reason}")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return None, input_problem(label, line, "binary file (NUL byte); not YAML")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        return None, input_problem(label, line,
                                   f"not valid UTF-8 (byte 0x{data[err.start]:02x}); YAML must be UTF-8")


def parse_documents(label: str, text: str, wanted: Callable[[yaml.Node], bool] | None = may_hold_objects,
                    ) -> tuple[list[Document], list[Finding]]:
    """The documents of a YAML stream that may hold our objects, and the located problems found.

    A document that `wanted` refuses (by default: one whose `kind` is none that the linter reads) is
    composed but never built (most of a repository); None builds every document (the audit's dumps).
    A syntax error ends the stream (the documents before it are kept); a problem inside one document
    (an unreadable integer, an alias bomb) drops that document only; duplicate keys are reported and the
    document is still read, last key winning, so its other problems are found too.
    """
    documents: list[Document] = []
    deep = _nesting_problem(label, text)
    if deep is not None:
        return documents, [deep]
    problems: list[Finding] = []
    loader = _Reader(text)
    may_alias = "&" in text and "*" in text
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (wanted is not None and not wanted(node)):
                continue
            line = node.start_mark.line + 1
            if may_alias and expansion(node, MAX_EXPANDED_NODES)[0] > MAX_EXPANDED_NODES:
                problems.append(input_problem(
                    label, line, f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias "
                                 "bomb?); not linted"))
                continue
            builder = Builder(may_alias)
            try:
                data = builder.build(node)
            except ReadProblem as err:
                problems.append(input_problem(label, err.line, err.message))
                continue
            problems.extend(input_problem(label, at, f"duplicate key {key!r} (first at line {first}); the "
                                                     "API server's strict field validation rejects it")
                            for at, key, first in builder.duplicates)
            documents.append(Document(data, line, node))
    except yaml.MarkedYAMLError as err:
        problems.append(_syntax_problem(label, err))
    except yaml.YAMLError as err:
        problems.append(input_problem(label, 1, f"YAML error: {err}", subject=SYNTAX))
    except (RecursionError, MemoryError):
        problems.append(input_problem(label, 1, "YAML nests too deeply to read; not linted"))
    finally:
        loader.dispose()
    return documents, problems


def _syntax_problem(label: str, err: yaml.MarkedYAMLError) -> Finding:
    mark = err.problem_mark or err.context_mark
    if err.context_mark is not None and "end of stream" in (err.problem or ""):
        mark = err.context_mark  # an unclosed quote or bracket: where it opens, not the file's end
    line = mark.line + 1 if mark is not None else 1
    context = err.context or ""
    if context and err.context_mark is not None and err.context_mark.line + 1 != line:
        context += f" (line {err.context_mark.line + 1})"
    what = ": ".join(p for p in (context, err.problem) if p)
    return input_problem(label, line, f"YAML syntax error: {what}", subject=SYNTAX)


def _nesting_problem(label: str, text: str) -> Finding | None:
    """A finding if the stream nests deeper than MAX_NESTING, found without composing it.

    PyYAML's C composer recurses once per level and a few tens of thousands of `[` crash the interpreter,
    so depth is checked first. The number of flow openers plus twice the longest run of block indicators
    at a line start bounds the depth; only when that bound is too high are the parser's events (which
    keep no recursion) counted. An opener right after a quote is not counted: it is inside a quoted
    scalar (`'{"ebs.csi.aws.com": ...}'`, as node annotations hold JSON), or the parser stops there.

    Openers are counted per document: a flow collection never spans a `---` or `...` line (libyaml ends or
    refuses it there), so a file of many small documents in flow style (`metadata: {name: x}`) no longer
    sends the whole file to the event scan. An empty `{}` or `[]` nests nothing below it, so it counts
    once per chain at most: the bound adds one for it instead of counting each (kubectl dumps hold many).
    """
    openers = max(map(_flow_openers, _DOCUMENT_MARKER.split(text)), default=0) + 1
    if openers + 2 * _BLOCK_INDICATORS + 2 <= MAX_NESTING and not _deep_block(text):
        return None
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    line = event.start_mark.line + 1 if event.start_mark is not None else 1
                    return input_problem(label, line, f"YAML nests more than {MAX_NESTING} levels deep; "
                                                      "not linted")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as err:
        if "nesting" in (err.problem or "") and err.problem_mark is not None:  # libyaml's own depth limit
            return input_problem(label, err.problem_mark.line + 1,
                                 f"YAML nests more than {MAX_NESTING} levels deep; not linted")
        return None  # the parse proper reports it, at the same point, no deeper than this
    except yaml.YAMLError:
        return None
    return None


def _flow_openers(text: str) -> int:
    """Flow openers that may hold something: not right after a quote, not the start of an empty pair
    (a quoted empty pair is discounted once, as quoted)."""
    quoted = sum(text.count(q + o) for q in "'\"" for o in "[{")
    empty = sum(text.count(pair) - text.count("'" + pair) - text.count('"' + pair) for pair in ("{}", "[]"))
    return text.count("[") + text.count("{") - quoted - empty


def _deep_block(text: str) -> bool:
    """Whether some line starts with a long run of indentation and block indicators (`- - - ? `)."""
    if _DEEP_FIRST_LINE.match(text):
        return True
    other_breaks = (any(b in text for b in ("\x85", "\u2028", "\u2029"))
                    or text.count("\r") != text.count("\r\n"))
    return bool(re.search(_DEEP_LINE_ANY_BREAK, text) if other_breaks else _DEEP_LINE.search(text))


def load_text(label: str, text: str, into: Cluster, strict: bool = False) -> None:
    """Add what the text holds to `into`. A file that does not parse, of which nothing was read and that
    shows nothing like one of our objects, is skipped with the reason (an error with `strict`)."""
    documents, problems = parse_documents(label, text)
    failure = problems[-1] if problems and problems[-1].subject == SYNTAX else None
    if failure is not None and not strict and not documents and not looks_like_ours(text):
        assert failure.source is not None
        into.skipped.append(Skipped(label, unparsed_reason(failure.source.line, failure.message)))
        return
    into.files += 1
    for document in documents:
        try:
            objects_from_document(label, document.data, document.node, into)
        except RecursionError:
            into.problems.append(input_problem(label, document.line, "an object nests too deeply to read; "
                                                                    "not linted"))
    into.problems.extend(problems)


def load_paths(paths: Iterable[str], max_bytes: int = DEFAULT_MAX_FILE_BYTES, strict: bool = False,
               exclude: Excluder | None = None) -> Cluster:
    """Read every manifest below PATHs into one Cluster; raises PathError only for a missing path.

    Helm chart templates are skipped (and listed in `skipped`); so is YAML that does not parse and is not
    ours, unless `strict`. `files` counts the files linted, not those skipped.
    """
    files, problems = discover(paths, exclude)
    cluster = Cluster()
    cluster.problems.extend(problems)
    with collector_paused():
        for name in _unique(files):
            if name != STDIN and is_helm_template(name):
                cluster.skipped.append(Skipped(name, HELM_TEMPLATE_REASON))
                continue
            text, problem = read_text(name, max_bytes)
            if problem is not None:
                cluster.files += 1
                cluster.problems.append(problem)
                continue
            assert text is not None
            load_text(STDIN_NAME if name == STDIN else name, text, cluster, strict)
    return cluster


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector, off while YAML is read, and what was read kept out of its sight.

    Composing YAML allocates millions of small objects (nodes, marks, dicts) that stay alive until their
    document is read, and pools keep their nodes for locating fields. The collector keeps traversing them
    and finds nothing to free, since composed YAML has no reference cycles (only a recursive alias makes
    one): on a 10,000-node dump that was about 40% of lint's time, more than all the rules.

    Afterwards everything alive is frozen (`gc.freeze`) and stays frozen: reference counting still frees
    it the moment it is dropped, but no collection walks it again. Unfreezing at once (as this did) put
    the million objects of a large repository back into the oldest generation, and the next full
    collection walked them all: 0.65 s at 10,000 pools and nodes. The webhook's state does the same
    (webhook/state.py `settle`). A reference cycle among frozen objects waits for the process to end; the
    only ones reading makes are recursive aliases, bounded by the input.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _unique(files: list[str]) -> Iterator[str]:
    """Each file once, even when two PATHs (or a link) reach it."""
    seen: set[str] = set()
    for name in files:
        key = name if name == STDIN else os.path.realpath(name)
        if key not in seen:
            seen.add(key)
            yield name
