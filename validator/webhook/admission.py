"""AdmissionReview `admission.k8s.io/v1`: reading a request strictly, and writing the response.

A request that is not a well-formed AdmissionReview is a client error (HTTP 4xx with a JSON body), never an
"allowed": the API server then applies the webhook's failurePolicy, which is the operator's choice, instead
of this process guessing. Only the fields the decision reads are checked; the rest is passed over.

Read strictly, because a lenient reading is a way around the judge:
- a key twice in one JSON object is refused (a reader that keeps the last value would judge another
  object than the API server stores, which may keep the first);
- an integer literal longer than Python converts (4,300 digits) is a 400 that says so;
- a judged request's `object` and `oldObject` must say the apiVersion and kind that `request.kind`
  says: an IPPool request whose object claims another group, or none, is a 400, never judged as
  something else and allowed. The API server always fills them in, so only a forged request fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from .routes import ADMISSION_API_VERSION, CREATE, DELETE, UPDATE

OPERATIONS = (CREATE, UPDATE, DELETE, "CONNECT")
MAX_WARNINGS = 12
MAX_WARNING_LENGTH = 256  # the API server may truncate longer warnings


class BadRequest(Exception):
    """A request the webhook cannot judge: HTTP `status` and a message for whoever sent it."""

    def __init__(self, status: int, message: str, reason: str = "bad-request") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason  # a short label for metrics

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


class AdmissionRequest(NamedTuple):
    """What the decision needs from `request`; `obj` and `old` are the objects as sent. A NamedTuple: a
    frozen dataclass would set each of its nine fields through `object.__setattr__`, on every request."""

    uid: str
    operation: str
    group: str
    version: str
    kind: str
    name: str
    obj: Mapping[str, Any] | None
    old: Mapping[str, Any] | None
    dry_run: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


MAX_INT_DIGITS = 4300  # CPython's default int-from-string limit


class _Refused(Exception):
    """Raised from inside the JSON reader, with the message the client gets."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the body has the key {key[:64]!r} twice in one object")
            seen.add(key)
    return found


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"the body has an integer of {len(text):,} digits (at most {MAX_INT_DIGITS:,})")
    return int(text)


def decode(body: bytes) -> Any:
    try:  # JSON on the wire is UTF-8 (RFC 8259)
        return json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_int=_integer)
    except _Refused as err:
        raise BadRequest(400, str(err), "malformed-json") from None
    except UnicodeDecodeError:
        raise BadRequest(400, "the body is not UTF-8 JSON", "malformed-json") from None
    except ValueError as err:
        raise BadRequest(400, f"the body is not valid JSON: {err}", "malformed-json") from None
    except RecursionError:
        raise BadRequest(400, "the body nests too deeply", "malformed-json") from None


def parse_review(data: Any) -> AdmissionRequest:
    """The request of an AdmissionReview v1, or BadRequest saying what is wrong with it."""
    if not isinstance(data, Mapping):
        raise BadRequest(400, "the body must be a JSON object (an AdmissionReview)", "not-a-review")
    if data.get("apiVersion") != ADMISSION_API_VERSION:
        raise BadRequest(400, f"apiVersion must be {ADMISSION_API_VERSION}, not {data.get('apiVersion')!r}",
                         "wrong-api-version")
    if data.get("kind") != "AdmissionReview":
        raise BadRequest(400, f"kind must be AdmissionReview, not {data.get('kind')!r}", "wrong-kind")
    request = data.get("request")
    if not isinstance(request, Mapping):
        raise BadRequest(400, "request is missing or not an object", "no-request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadRequest(400, "request.uid is missing or empty (the response must echo it)", "no-uid")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise BadRequest(400, f"request.operation must be one of {', '.join(OPERATIONS)}, not {operation!r}",
                         "bad-operation")
    kind = request.get("kind")
    if not isinstance(kind, Mapping) or not isinstance(kind.get("kind"), str) \
            or not isinstance(kind.get("version"), str) or not isinstance(kind.get("group", ""), str):
        raise BadRequest(400, "request.kind must be an object with group, version and kind", "bad-kind")
    obj, old = request.get("object"), request.get("oldObject")
    for field, value in (("object", obj), ("oldObject", old)):
        if value is not None and not isinstance(value, Mapping):
            raise BadRequest(400, f"request.{field} must be an object or null", "bad-object")
    name = request.get("name")
    return AdmissionRequest(uid, str(operation), str(kind.get("group", "")), str(kind["version"]),
                            str(kind["kind"]), name if isinstance(name, str) else "", obj, old,
                            request.get("dryRun") is True)


def require_objects(request: AdmissionRequest) -> None:
    """A judged request must carry what its operation implies, each object of the kind the request says
    (the API server always sends them so)."""
    if request.operation in (CREATE, UPDATE) and request.obj is None:
        raise BadRequest(400, f"request.object is missing for {request.operation}", "no-object")
    if request.operation == UPDATE and request.old is None:
        raise BadRequest(400, "request.oldObject is missing for UPDATE", "no-object")
    for field, obj in (("object", request.obj), ("oldObject", request.old)):
        if obj is None:
            continue
        if obj.get("apiVersion") != request.api_version or obj.get("kind") != request.kind:
            raise BadRequest(400, f"request.{field} says apiVersion {obj.get('apiVersion')!r}, kind "
                             f"{obj.get('kind')!r}; request.kind says {request.api_version!r}, "
                             f"{request.kind!r}", "kind-mismatch")


def response(uid: str, allowed: bool, message: str = "", warnings: Sequence[str] = (),
             code: int = 403) -> dict[str, Any]:
    """An AdmissionReview v1 response; a denial carries a Status that kubectl prints as the reason."""
    answer: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        answer["status"] = {"metadata": {}, "status": "Failure", "code": code, "message": message,
                            "reason": "Forbidden" if code == 403 else "InternalError"}
    if warnings:
        answer["warnings"] = clip_warnings(warnings)
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": answer}


def clip_warnings(warnings: Sequence[str]) -> list[str]:
    clipped = [w if len(w) <= MAX_WARNING_LENGTH else w[: MAX_WARNING_LENGTH - 1] + "…" for w in warnings]
    if len(clipped) > MAX_WARNINGS:
        clipped = clipped[: MAX_WARNINGS - 1] + [f"... and {len(clipped) - MAX_WARNINGS + 1} more findings"]
    return clipped
