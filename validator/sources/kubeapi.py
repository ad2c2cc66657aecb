"""Raw JSON requests to the Kubernetes API, shared by `lint --kubeconfig` and the webhook's cluster state.

Requests go through the kubernetes client's ApiClient (its kubeconfig or in-cluster credentials and TLS),
but bodies are read as raw JSON, never as typed models: thousands of nodes cost no model objects, and newer
clients build pydantic validators for typed calls that take seconds on first use. Lists are paged
(`limit`/`continue`). The Calico API group is found by discovery: `projectcalico.org/v3` when it serves
IPPools, else the CRDs of `crd.projectcalico.org/v1` (never both: the API server stores v3 as the v1 CRDs,
so reading both would read every pool twice).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

PAGE_SIZE = 500
TIMEOUT = (5.0, 60.0)  # seconds to connect, to read one page
CALICO_GROUPS = (("projectcalico.org", "v3"), ("crd.projectcalico.org", "v1"))
CALICO_RESOURCES = {"ippools": "IPPool", "ipreservations": "IPReservation",
                    "ipamconfigurations": "IPAMConfiguration", "ipamconfigs": "IPAMConfig"}


class ApiError(Exception):
    """The API answered with an error status; the message is its Status message when it sent one."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status} {message}")
        self.status = status


class Expired(ApiError):
    """410 Gone: the resourceVersion a watch wanted to resume from was compacted away; list again."""

    def __init__(self, message: str) -> None:
        super().__init__(410, message)


class Api:
    """GET requests through a kubernetes ApiClient, returning parsed JSON or a stream of lines."""

    def __init__(self, api_client: Any) -> None:
        self.client = api_client

    def _request(self, path: str, query: list[tuple[str, Any]], accept: str, timeout: Any) -> Any:
        header = {"Accept": accept}
        if hasattr(self.client, "param_serialize"):  # clients made by the newer OpenAPI generator
            method, url, headers, _, _ = self.client.param_serialize(
                method="GET", resource_path=path, query_params=query, header_params=header,
                auth_settings=["BearerToken"])
            raw = self.client.call_api(method, url, header_params=headers, _request_timeout=timeout).response
        else:
            raw = self.client.call_api(path, "GET", query_params=query, header_params=header,
                                       auth_settings=["BearerToken"], _preload_content=False,
                                       _return_http_data_only=True, _request_timeout=timeout)
        if raw.status >= 400:
            try:
                body = json.loads(raw.data or b"{}")
                detail = body.get("message", "") if isinstance(body, Mapping) else ""
            except ValueError:
                detail = ""
            finally:
                raw.release_conn()
            if raw.status == 410:
                raise Expired(detail or "gone")
            reason = f"{raw.reason or ''}".strip()
            raise ApiError(raw.status, ": ".join(p for p in (reason, detail) if p) or "error")
        return raw

    def get(self, path: str, query: list[tuple[str, Any]] | None = None,
            accept: str = "application/json") -> Any:
        raw = self._request(path, query or [], accept, TIMEOUT)
        try:
            return json.loads(raw.data or b"{}")
        finally:
            raw.release_conn()

    def pages(self, path: str, accept: str = "application/json") -> Iterator[Mapping[str, Any]]:
        """Every page of a list endpoint, following `continue` tokens."""
        token = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", PAGE_SIZE)] + ([("continue", token)] if token else [])
            page = self.get(path, query, accept)
            yield page
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    def lines(self, path: str, query: list[tuple[str, Any]], accept: str,
              read_timeout: float) -> Iterator[bytes]:
        raw = self._request(path, query, accept, (TIMEOUT[0], read_timeout))
        buffer = b""
        try:
            for chunk in raw.stream(amt=None, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield line
        finally:
            raw.release_conn()


def calico_api(api: Api) -> tuple[str, dict[str, str]] | None:
    """The Calico API group to read ("group/version") and the Calico resources it serves (plural -> kind),
    or None when no group serves IPPools."""
    served = {(g.get("name"), v.get("version")) for g in api.get("/apis").get("groups") or []
              for v in g.get("versions") or []}
    for group, version in CALICO_GROUPS:
        if (group, version) not in served:
            continue
        plurals = {r.get("name") for r in api.get(f"/apis/{group}/{version}").get("resources") or []}
        if "ippools" in plurals:
            return f"{group}/{version}", {p: k for p, k in CALICO_RESOURCES.items() if p in plurals}
    return None


CALICO_V1 = ("crd.projectcalico.org", "v1")
CALICO_V3 = ("projectcalico.org", "v3")


def served_groups(api: Api) -> set[tuple[str, str]]:
    return {(g.get("name"), v.get("version")) for g in api.get("/apis").get("groups") or []
            for v in g.get("versions") or []}


def calico_resource_paths(api: Api, wanted: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, str]]:
    """Where to read each Calico kind, as Calico itself decides (libcalico-go lib/backend/k8s/discovery.go
    `UsingV3CRDs`): from `crd.projectcalico.org/v1` whenever that group is served, from
    `projectcalico.org/v3` only when it is not; per resource, so a kind the chosen group lacks is absent.

    `wanted` maps a kind to its plurals in (v1, v3) order, e.g. {"IPAMConfig": ("ipamconfigs",
    "ipamconfigurations")}; the answer maps each kind found to (list path, apiVersion). The aggregated API
    server (projectcalico.org/v3 beside the v1 CRDs) serves no IPAM blocks or handles, so reading v1
    whenever it exists is also what makes blocks and handles readable there."""
    groups = served_groups(api)
    group = CALICO_V1 if CALICO_V1 in groups else CALICO_V3 if CALICO_V3 in groups else None
    if group is None:
        return {}
    api_version = f"{group[0]}/{group[1]}"
    plurals = {r.get("name") for r in api.get(f"/apis/{api_version}").get("resources") or []}
    found: dict[str, tuple[str, str]] = {}
    for kind, names in wanted.items():
        plural = next((p for p in names if p in plurals), None)
        if plural is not None:
            found[kind] = (f"/apis/{api_version}/{plural}", api_version)
    return found


def name_of(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""
