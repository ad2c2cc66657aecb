"""What a write caused, and only that, decides: classes of writes against the webhook fixture state (per-rack
pools rack-1 and rack-2 inside an old, disabled all() pool, an overlap that exists before any test), judged
in-process through the real Flask app. Some classes need a state of their own: a folder of YAML
written for the test, read by `StaticState` as `serve --state DIR` reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.webhook_support import STATE, node, pool, review
from validator.config import Config
from validator.engine import run
from validator.model import V1, Cluster, Pool, Resource, Source
from validator.rules.base import Focus
from validator.webhook.app import create_app
from validator.webhook.state import StaticState

V3 = "projectcalico.org/v3"


def installation(*pools: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
            "spec": {"calicoNetwork": {"ipPools": list(pools)}}}


def entry(name: str, cidr: str, selector: str) -> dict[str, Any]:
    return {"name": name, "cidr": cidr, "nodeSelector": selector}


RACK_1 = entry("rack-1", "10.10.1.0/24", 'rack == "1"')


def judged(body: dict[str, Any], state: StaticState | None = None) -> dict[str, Any]:
    test_client = create_app(state or StaticState(str(STATE)), Config()).test_client()
    reply = test_client.post("/validate", json=body)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return dict(reply.get_json()["response"])


PRE_EXISTING = "pre-existing: [pool-overlap] IPPool/rack-1 "  # an Installation entry adds "from ..."
OVERLAPS_OLD = "(10.10.1.0/24) overlaps IPPool/old-default"


@pytest.mark.parametrize("body", [
    review("CREATE", installation(RACK_1)),
    review("UPDATE", installation(RACK_1), installation(RACK_1)),
    review("UPDATE", installation(RACK_1, entry("rack-9", "10.60.0.0/24", 'rack == "9"')),
           installation(RACK_1)),
    review("CREATE", pool("rack-1", "10.10.1.0/24", 'rack == "1"', api_version=V3)),
    review("UPDATE", pool("rack-1", "10.10.1.0/24", 'rack == "1"', natOutgoing=True),
           pool("rack-1", "10.10.1.0/24", 'rack == "1"')),
    review("UPDATE", pool("rack-1", "10.10.1.0/24", 'rack == "1"', api_version=V3),
           pool("rack-1", "10.10.1.0/24", 'rack == "1"', api_version=V3)),
], ids=["installation-create-adopts-the-ippool", "installation-update", "installation-update-adds-a-pool",
        "ippool-create-other-group", "ippool-update", "ippool-update-other-group"])
def test_an_overlap_that_existed_before_never_blocks_the_same_pool(body: dict[str, Any]) -> None:
    """The same pool, whichever API names it (IPPool in either group, an Installation entry of that name
    and CIDR, as when moving to the operator), keeps its old overlap: a warning, never a denial."""
    response = judged(body)
    assert response["allowed"] is True, response
    assert any(w.startswith(PRE_EXISTING) and OVERLAPS_OLD in w for w in response["warnings"]), response


@pytest.mark.parametrize(("body", "overlapping"), [
    (review("CREATE", installation(entry("default-ipv4", "10.10.1.0/24", "all()"))), "IPPool/rack-1"),
    (review("CREATE", installation(entry("rack-1", "10.10.2.128/25", 'rack == "1"'))), "IPPool/rack-2"),
    (review("UPDATE", installation(RACK_1, entry("extra", "10.10.2.0/25", 'rack == "2"')),
            installation(RACK_1)), "IPPool/rack-2"),
    (review("CREATE", pool("rack-3", "10.10.1.0/25", 'rack == "1"', api_version=V3)), "IPPool/rack-1"),
    (review("CREATE", pool("rack-4", "10.10.2.0/26", 'rack == "2"')), "IPPool/rack-2"),
], ids=["installation-new-name-same-cidr", "installation-same-name-new-overlap",
        "installation-update-adds-an-overlap", "ippool-create-v3", "ippool-create-v1"])
def test_an_overlap_the_write_causes_is_denied(body: dict[str, Any], overlapping: str) -> None:
    response = judged(body)
    assert response["allowed"] is False, response
    message = response["status"]["message"]
    assert "[pool-overlap]" in message and overlapping in message, message


def test_the_same_name_in_a_free_range_is_allowed_without_the_old_overlap() -> None:
    """An Installation entry named like an IPPool but with its own free range: the old overlap is gone in
    the after-state, and nothing new is found."""
    response = judged(review("CREATE", installation(entry("rack-1", "10.70.0.0/24", 'rack == "1"'))))
    assert response["allowed"] is True, response
    assert not any("pool-overlap" in w for w in response.get("warnings", [])), response


ONLY_V4 = pool("default-ipv4", "10.0.0.0/16")


def state_of(tmp_path: Path, *objects: dict[str, Any]) -> StaticState:
    (tmp_path / "state.yaml").write_text(yaml.safe_dump_all(objects))
    return StaticState(str(tmp_path))


@pytest.mark.parametrize("body", [
    review("DELETE", old=ONLY_V4),
    review("UPDATE", pool("default-ipv4", "10.0.0.0/16", disabled=True), ONLY_V4),
    review("UPDATE", pool("default-ipv4", "10.0.0.0/16", assignmentMode="Manual"), ONLY_V4),
    review("UPDATE", pool("default-ipv4", "10.0.0.0/16", allowedUses=["Tunnel"]), ONLY_V4),
], ids=["delete", "disable", "manual", "tunnel-only"])
def test_taking_away_the_only_pool_of_a_family_is_denied_naming_the_nodes(
        tmp_path: Path, body: dict[str, Any]) -> None:
    """The family was in use before the change, so it is in use for judging it: every node loses it."""
    state = state_of(tmp_path, ONLY_V4, node("n1", rack="1"), node("n2", rack="2"))
    response = judged(body, state)
    assert response["allowed"] is False, response
    message = response["status"]["message"]
    assert "[node-unselected] Node/n1" in message and "no enabled IPv4 pool" in message
    assert "Node/n2" in message


@pytest.mark.parametrize("body", [
    review("DELETE", old=ONLY_V4),
    review("UPDATE", pool("default-ipv4", "10.0.0.0/16", disabled=True), ONLY_V4),
], ids=["delete", "disable"])
def test_taking_away_one_of_two_pools_that_serve_the_nodes_is_allowed(
        tmp_path: Path, body: dict[str, Any]) -> None:
    state = state_of(tmp_path, ONLY_V4, pool("second", "10.1.0.0/16"), node("n1", rack="1"))
    response = judged(body, state)
    assert response["allowed"] is True and not response.get("warnings"), response


def test_a_family_that_was_already_out_of_use_does_not_block_other_writes(tmp_path: Path) -> None:
    """Only a disabled IPv4 pool: every node is already stranded. Touching an unrelated IPv6 pool does
    not cause that, so it is not denied for it."""
    v6 = pool("v6", "fd00::/112")
    state = state_of(tmp_path, pool("default-ipv4", "10.0.0.0/16", disabled=True), v6, node("n1"))
    response = judged(review("UPDATE", pool("v6", "fd00::/112", natOutgoing=True), v6), state)
    assert response["allowed"] is True, response


def test_pool_immutable_field_is_a_rule_the_engine_runs_with_the_previous_version() -> None:
    """The engine runs the rule like any other; the focus carries the old version of an UPDATE, and a
    policy level applies to it as to every rule (no path around the engine)."""
    old = Pool(Resource(V1, "IPPool", "p"), Source("old.yaml", 1), {"cidr": "10.0.0.0/16"}, "v1")
    new = Pool(Resource(V1, "IPPool", "p"), Source("new.yaml", 1), {"cidr": "10.1.0.0/16", "blockSize": 24},
               "v1")
    cluster = Cluster(pools=[new])
    focus = Focus(pools=frozenset({new.resource}), previous=(old,))
    found = [f for f in run(cluster, Config(), focus).findings if f.rule == "pool-immutable-field"]
    assert sorted(f.subject for f in found) == ["blockSize", "cidr"]
    assert not [f for f in run(cluster, Config(), Focus(pools=frozenset({new.resource}))).findings
                if f.rule == "pool-immutable-field"]  # a new pool, or a lint: nothing to compare with
    warned = run(cluster, Config(rule_levels={"pool-immutable-field": "warning"}), focus).findings
    assert {f.severity for f in warned if f.rule == "pool-immutable-field"} == {"warning"}
