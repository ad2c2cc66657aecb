"""Fuzzing the webhook's request path in-process (the real Flask app over the webhook fixture state).

Two families of input: every field path of real AdmissionReviews (one of each judged kind) given a value
of the wrong type, and random objects of every judged kind under every operation. Whatever arrives, the
answer is JSON with a 2xx or 4xx status (never a 5xx), nothing is logged with a traceback, and a write
whose object an object rule finds an error in is never allowed (outside warn mode: a Node's registration).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webhook_support import STATE, node, pool, review
from validator.config import Config
from validator.engine import run
from validator.rules import REGISTRY
from validator.webhook.admission import parse_review
from validator.webhook.app import create_app
from validator.webhook.decision import only
from validator.webhook.plan import read_object
from validator.webhook.state import StaticState

STATIC = StaticState(str(STATE))
CLIENT = create_app(STATIC, Config()).test_client()
OBJECT_RULES = only(Config(), frozenset(r.id for r in REGISTRY.values() if r.scope == "object"))[0]

RESERVATION = {"apiVersion": "projectcalico.org/v3", "kind": "IPReservation", "metadata": {"name": "r"},
               "spec": {"reservedCIDRs": ["10.10.1.1/32"]}}
OPERATOR_POOL = {"name": "p", "cidr": "10.60.0.0/24", "nodeSelector": "all()", "blockSize": 26}
INSTALLATION = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                "metadata": {"name": "default"}, "spec": {"calicoNetwork": {"ipPools": [OPERATOR_POOL]}}}
EXAMPLES = {
    "ippool-create": review("CREATE", pool("fuzz", "10.70.0.0/24", 'rack == "1"', blockSize=26,
                                           natOutgoing=True, allowedUses=["Workload"])),
    "ippool-update": review("UPDATE", pool("rack-1", "10.10.1.0/24", 'rack == "1"', natOutgoing=True),
                            pool("rack-1", "10.10.1.0/24", 'rack == "1"', natOutgoing=True)),
    "ippool-delete": review("DELETE", old=pool("rack-2", "10.10.2.0/24", 'rack == "2"')),
    "reservation-create": review("CREATE", RESERVATION),
    "installation-update": review("UPDATE", INSTALLATION, INSTALLATION),
    "node-update": review("UPDATE", node("worker-1a", rack="1"), node("worker-1a", rack="2")),
}
WRONG = [None, 0, -1, 1.5, True, "", "x", [], [1], {}, {"a": 1}]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths(item, (*prefix, i))


def replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def wrong_for(original: Any) -> list[Any]:
    return [w for w in WRONG if type(w) is not type(original)]


FIELD_CASES = [(name, path) for name, body in EXAMPLES.items() for path in paths(body) if path]


def post(body: Any, caplog: pytest.LogCaptureFixture) -> tuple[int, Any]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        reply = CLIENT.post("/validate", data=json.dumps(body), content_type="application/json")
    assert reply.status_code < 500, reply.get_data(as_text=True)
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records), caplog.text
    return reply.status_code, reply.get_json()


def assert_no_allow_over_an_error(body: Any, status: int, answer: Any) -> None:
    """An object rule's error in the written object denies (a Node CREATE is judged in warn mode)."""
    if status != 200:
        return
    request = parse_review(body)
    registering = (request.kind, request.operation) == ("Node", "CREATE")
    if request.operation not in ("CREATE", "UPDATE") or registering:
        return
    if request.obj is None or answer["response"]["allowed"] is False:
        return
    written = read_object(request, request.obj)
    errors = [f for f in run(written, OBJECT_RULES).findings if f.severity == "error"]
    assert not errors, (errors, answer)


@pytest.mark.parametrize(("example", "path"), FIELD_CASES,
                         ids=[f"{name}:{'.'.join(map(str, path))}" for name, path in FIELD_CASES])
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_field_with_a_wrong_type_gets_a_clean_answer(example: str, path: tuple[Any, ...],
                                                           data: st.DataObject,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    body = EXAMPLES[example]
    original = body
    for key in path:
        original = original[key]
    value = data.draw(st.sampled_from(wrong_for(original)))
    mutated = replaced(body, path, value)
    status, answer = post(mutated, caplog)
    assert isinstance(answer, dict)
    assert_no_allow_over_an_error(mutated, status, answer)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["all()", "10.10.0.0/16", "fd00::/120", "Never",
                                                           "Always", "CrossSubnet", "Workload", "Manual",
                                                           "rack == \"1\"", "10.10.1.1/32", "26", ""]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)
POOL_FIELDS = ["cidr", "blockSize", "nodeSelector", "disabled", "natOutgoing", "ipipMode", "vxlanMode",
               "allowedUses", "assignmentMode", "namespaceSelector", "disableBGPExport"]
KINDS = {
    "IPPool": ("crd.projectcalico.org/v1", POOL_FIELDS),
    "IPReservation": ("projectcalico.org/v3", ["reservedCIDRs"]),
    "Installation": ("operator.tigera.io/v1", ["calicoNetwork"]),
    "Node": ("v1", []),
    "ConfigMap": ("v1", []),  # a kind the webhook does not judge: allowed untouched
}


@st.composite
def random_objects(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    api_version, fields = KINDS[kind]
    spec = {name: draw(values) for name in draw(st.lists(st.sampled_from(fields), unique=True))} if fields \
        else {}
    if kind == "Installation" and draw(st.booleans()):
        entry = {name: draw(values) for name in draw(st.lists(st.sampled_from(["name", *POOL_FIELDS]),
                                                              unique=True))}
        spec["calicoNetwork"] = {"ipPools": [entry]}
    metadata: dict[str, Any] = {"name": draw(st.sampled_from(["rack-1", "rack-2", "fuzz", "default",
                                                              "worker-1a", ""]))}
    if kind == "Node":
        keys = st.sampled_from(["rack", "zone", "kubernetes.io/hostname"])
        metadata["labels"] = draw(st.dictionaries(keys, st.text(max_size=5), max_size=3))
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if spec or kind not in ("Node", "ConfigMap"):
        obj["spec"] = spec
    return obj


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_random_objects_of_every_kind_and_operation_get_a_clean_answer(
        data: st.DataObject, caplog: pytest.LogCaptureFixture) -> None:
    kind = data.draw(st.sampled_from(sorted(KINDS)))
    operation = data.draw(st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]))
    obj = data.draw(random_objects(kind))
    old = data.draw(random_objects(kind)) if operation in ("UPDATE", "DELETE") else None
    if old is not None:
        old["metadata"]["name"] = obj["metadata"]["name"]
    body = review(operation, None if operation == "DELETE" else obj, old)
    status, answer = post(body, caplog)
    assert isinstance(answer, dict)
    assert_no_allow_over_an_error(body, status, answer)
