"""Reading IPAM state from dumps: `kubectl get ... -o json|yaml` output, single objects or Lists.

Files and folders (recursively `*.json`, `*.yaml`, `*.yml`, hidden folders skipped) may hold any mix of
IPAMBlock, BlockAffinity, IPAMHandle, IPAMConfig / IPAMConfiguration, IPPool, IPReservation, Node and Pod,
in either Calico API group. JSON is read incrementally (`jsonstream`), so a 170 MB block List costs its
model, not its text; YAML goes through the linter's guarded reader (and is much slower: a 5,000-node
cluster's blocks are best dumped as JSON).

Handles are only needed for the handle checks, so a JSON file whose first object is an IPAMHandle (what
`kubectl get ipamhandles -o json` writes) is not read here: the state gets a stream that reads it when the
audit reaches the handle checks, one handle at a time. Handles met in other files are kept until then.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from ..model import CALICO_API_VERSIONS, Cluster, Finding, Source
from ..sources.files import input_problem, parse_documents, read_text
from ..sources.manifests import add_object
from . import convert
from .jsonstream import JSONStreamError, objects
from .model import AuditState, Handle

SUFFIXES = (".json", ".yaml", ".yml")
YAML_MAX_BYTES = 1 << 30
IPAM_KINDS = {"IPAMBlock", "BlockAffinity", "IPAMHandle"}
LINT_KINDS = {"IPPool", "IPReservation", "IPAMConfiguration", "IPAMConfig"}


class DumpPathError(Exception):
    """A path on the command line that does not exist: a usage error."""


def dump_files(paths: Iterable[str]) -> list[str]:
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(SUFFIXES))
        elif os.path.exists(path):
            found.append(path)
        else:
            raise DumpPathError(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


class _Collector:
    """Sorts objects into the state; pools, nodes and the rest go through the linter's reader."""

    def __init__(self, state: AuditState) -> None:
        self.state = state
        self.cluster = Cluster()
        self.handles: list[Handle] = []
        self.pods: dict[tuple[str, str], Any] = {}
        self.saw_pods = False

    def add(self, file: str, line: int, obj: Mapping[str, Any]) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        source = Source(file, line)
        try:
            if api_version in CALICO_API_VERSIONS and kind in IPAM_KINDS:
                self._ipam(kind, obj, source)
            elif api_version in CALICO_API_VERSIONS and kind in LINT_KINDS or kind == "Node":
                add_object(file, line, obj, self.cluster)
            elif api_version == "v1" and kind == "Pod":
                found = convert.pod(obj, source)
                self.pods[(found.namespace, found.name)] = found
                self.saw_pods = True
            elif api_version == "v1" and kind in ("PodList", "NodeList"):
                self.saw_pods = self.saw_pods or kind == "PodList"
        except convert.ObjectError as err:
            self.state.problems.append(input_problem(file, line, str(err)))

    def _ipam(self, kind: str, obj: Mapping[str, Any], source: Source) -> None:
        if kind == "IPAMBlock":
            block = convert.block(obj, source)
            if block is not None:
                self.state.blocks.append(block)
        elif kind == "BlockAffinity":
            affinity = convert.affinity(obj, source)
            if affinity is not None:
                self.state.affinities.append(affinity)
        else:
            handle = convert.handle(obj, source.file, source.line)
            if handle is not None:
                self.handles.append(handle)

    def finish(self, lazy: list[str]) -> None:
        state, cluster = self.state, self.cluster
        state.pools, state.reservations, state.nodes = cluster.pools, cluster.reservations, cluster.nodes
        state.ipam = cluster.ipam_settings
        state.nodes_known = cluster.nodes_known
        state.problems.extend(cluster.problems)
        state.pods = self.pods if self.saw_pods else None
        state.pod_status = any(p.status_ips is not None for p in self.pods.values())
        state.handles = (
            None if not self.handles and not lazy else _Handles(self.handles, lazy, state.problems)
        )


def read_dumps(paths: Iterable[str], taken_at: datetime | None = None) -> AuditState:
    """The IPAM state in the dumps; `taken_at` defaults to the newest file's modification time."""
    files = dump_files(paths)
    state = AuditState(origin="dump")
    collector = _Collector(state)
    lazy: list[str] = []
    for name in files:
        if name.endswith(".json") or _looks_like_json(name):
            if _read_json(name, collector):
                lazy.append(name)
        else:
            _read_yaml(name, collector)
    collector.finish(lazy)
    if taken_at is None and files:
        newest = max(os.stat(f).st_mtime for f in files)
        taken_at = datetime.fromtimestamp(newest, timezone.utc)
    state.taken_at = taken_at
    return state


def _looks_like_json(name: str) -> bool:
    try:
        with open(name, "rb") as handle:
            return handle.read(64).lstrip()[:1] in (b"{", b"[")
    except OSError:
        return False


def _read_json(name: str, collector: _Collector) -> bool:
    """Read one JSON dump; True when it starts with a handle and is left for the handle checks."""
    try:
        with open(name, encoding="utf-8-sig") as stream:
            stream_objects = objects(stream)
            for line, obj in stream_objects:
                if obj.get("kind") == "IPAMHandle" and obj.get("apiVersion") in CALICO_API_VERSIONS:
                    return True
                collector.add(name, line, obj)
                break
            for line, obj in stream_objects:
                collector.add(name, line, obj)
    except JSONStreamError as err:
        collector.state.problems.append(input_problem(name, err.line, str(err)))
    except (OSError, UnicodeDecodeError) as err:
        collector.state.problems.append(input_problem(name, 1, f"cannot read: {_reason(err)}"))
    return False


def _read_yaml(name: str, collector: _Collector) -> None:
    text, problem = read_text(name, YAML_MAX_BYTES)
    if problem is not None:
        collector.state.problems.append(problem)
        return
    assert text is not None
    documents, problems = parse_documents(name, text, wanted=None)  # every kind: IPAM objects too
    for document in documents:
        data = document.data
        if not isinstance(data, Mapping):
            continue
        items = data.get("items")
        if isinstance(items, list) and str(data.get("kind", "")).endswith("List"):
            lines = _item_lines(document.node, len(items), document.line)
            for item, line in zip(items, lines, strict=False):
                if isinstance(item, Mapping):
                    collector.add(name, line, _with_list_kind(data, item))
        else:
            collector.add(name, document.line, data)
    collector.state.problems.extend(problems)


def _with_list_kind(frame: Mapping[str, Any], item: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = str(frame.get("kind", ""))
    if "kind" in item or kind == "List":
        return item
    return {**item, "kind": kind[:-4], "apiVersion": item.get("apiVersion", frame.get("apiVersion"))}


def _item_lines(node: Any, count: int, fallback: int) -> list[int]:
    for key, value in getattr(node, "value", []) or []:
        if getattr(key, "value", None) == "items" and isinstance(getattr(value, "value", None), list):
            return [child.start_mark.line + 1 for child in value.value][:count] + [fallback] * max(
                0, count - len(value.value)
            )
    return [fallback] * count


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err)


class _Handles:
    """The handles of a dump, read when iterated: those kept from mixed files, then the handle files."""

    def __init__(self, kept: list[Handle], files: list[str], problems: list[Finding]) -> None:
        self.kept = kept
        self.files = files
        self.problems = problems

    def __iter__(self) -> Iterator[Handle]:
        yield from self.kept
        for name in self.files:
            yield from self._stream(name)

    def _stream(self, name: str) -> Iterator[Handle]:
        try:
            with open(name, encoding="utf-8-sig") as stream:
                told = False
                for line, obj in objects(stream):
                    if obj.get("kind") != "IPAMHandle" or obj.get("apiVersion") not in CALICO_API_VERSIONS:
                        if not told:
                            self.problems.append(
                                input_problem(
                                    name,
                                    line,
                                    f"a {obj.get('kind')} in a file that starts with IPAMHandles is "
                                    "not read (handles are read last); dump it to another file",
                                )
                            )
                            told = True
                        continue
                    found = convert.handle(obj, name, line)
                    if found is not None:
                        yield found
        except JSONStreamError as err:
            self.problems.append(input_problem(name, err.line, str(err)))
        except (OSError, UnicodeDecodeError) as err:
            self.problems.append(input_problem(name, 1, f"cannot read: {_reason(err)}"))
