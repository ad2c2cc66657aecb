"""The webhook's decisions, over real HTTPS: one `ippool-validator serve --state tests/fixtures/webhook/state`
per module, certificates from `ippool-validator certs`, AdmissionReview v1 JSON as the API server sends it.

The state (fixtures/webhook/state): pools rack-1 (10.10.1.0/24, rack == "1") and rack-2 (10.10.2.0/24,
rack == "2") inside the disabled old-default (10.10.0.0/16), so two overlaps exist before any change;
nodes worker-1a, worker-1b (rack 1), worker-2a, worker-2b (rack 2); a reservation of two gateway addresses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webhook_support import Server, node, pool, review, running_server

V3 = "projectcalico.org/v3"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("webhook")) as running:
        yield running


def test_a_good_new_pool_is_allowed_without_warnings(server: Server) -> None:
    answer = server.review(review("CREATE", pool("rack-1-more", "10.30.0.0/24", 'rack == "1"')))
    assert answer["allowed"] is True
    assert "warnings" not in answer


def test_an_overlapping_pool_is_denied_with_the_rule_the_other_pool_and_the_fix(server: Server) -> None:
    bis = pool("rack-1-bis", "10.10.1.128/25", 'rack == "1"', api_version=V3)
    answer = server.review(review("CREATE", bis))
    assert answer["allowed"] is False
    status = answer["status"]
    assert status["code"] == 403
    message = status["message"]
    assert message.startswith("creating IPPool/rack-1-bis: [pool-overlap] IPPool/rack-1-bis (10.10.1.128/25) "
                              "overlaps IPPool/old-default (10.10.0.0/16)")
    assert "; also IPPool/rack-1;" in message
    assert "fix: give each pool its own range" in message
    assert message.count("\n") <= 1  # one or two lines in kubectl's output


def test_a_pool_that_selects_no_node_is_allowed_with_a_warning(server: Server) -> None:
    answer = server.review(review("CREATE", pool("rack-9", "10.90.0.0/24", 'rack == "9"')))
    assert answer["allowed"] is True
    assert any(w.startswith("[pool-selects-nothing] IPPool/rack-9") and "rack: '1', '2'" in w
               for w in answer["warnings"])


def test_an_invalid_pool_is_denied_whatever_else(server: Server) -> None:
    answer = server.review(review("CREATE", pool("typo", "10.40.0.1/24")))
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert "[cidr-invalid]" in message and "did you mean 10.40.0.0/24?" in message


def test_deleting_the_last_pool_of_some_nodes_is_denied_naming_them(server: Server) -> None:
    rack_2 = pool("rack-2", "10.10.2.0/24", 'rack == "2"', natOutgoing=True)
    answer = server.review(review("DELETE", old=rack_2))
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert message.startswith("deleting IPPool/rack-2: [node-unselected] Node/worker-2a (rack=2) is "
                              "selected by no enabled IPv4 pool")
    assert "also Node/worker-2b" in message
    assert "add an all() fallback pool" in message


def test_deleting_a_pool_nobody_depends_on_is_allowed(server: Server) -> None:
    answer = server.review(review("DELETE", old=pool("old-default", "10.10.0.0/16", disabled=True)))
    assert answer == {"uid": answer["uid"], "allowed": True}


def test_an_update_is_judged_against_its_old_object(server: Server) -> None:
    old = pool("rack-1", "10.10.1.0/24", 'rack == "1"', natOutgoing=True)
    stranding = pool("rack-1", "10.10.1.0/24", 'rack == "one"', natOutgoing=True)
    answer = server.review(review("UPDATE", stranding, old))
    assert answer["allowed"] is False
    assert "Node/worker-1a (rack=1) is selected by no enabled IPv4 pool" in answer["status"]["message"]
    assert "also Node/worker-1b" in answer["status"]["message"]


def test_an_update_that_keeps_an_old_overlap_is_allowed_and_says_so(server: Server) -> None:
    old = pool("rack-1", "10.10.1.0/24", 'rack == "1"', natOutgoing=True)
    new = pool("rack-1", "10.10.1.0/24", 'rack == "1"', natOutgoing=False)
    answer = server.review(review("UPDATE", new, old))
    assert answer["allowed"] is True
    expected = "pre-existing: [pool-overlap] IPPool/rack-1 (10.10.1.0/24) overlaps IPPool/old-default"
    assert any(w.startswith(expected) for w in answer["warnings"])


def test_an_update_through_the_other_api_group_is_the_same_pool(server: Server) -> None:
    old = pool("rack-2", "10.10.2.0/24", 'rack == "2"', api_version=V3, natOutgoing=True)
    new = pool("rack-2", "10.10.2.0/24", 'rack in {"2"}', api_version=V3, natOutgoing=True)
    answer = server.review(review("UPDATE", new, old))
    assert answer["allowed"] is True
    assert not any("pool-name-duplicate" in w for w in answer.get("warnings", []))


def test_a_node_label_change_that_strands_the_node_is_denied(server: Server) -> None:
    answer = server.review(review("UPDATE", node("worker-1a", rack="3"), node("worker-1a", rack="1")))
    assert answer["allowed"] is False
    assert answer["status"]["message"].startswith("updating Node/worker-1a: [node-unselected] Node/worker-1a "
                                                  "(rack=3) is selected by no enabled IPv4 pool")


def test_a_node_label_change_to_another_served_rack_is_allowed(server: Server) -> None:
    answer = server.review(review("UPDATE", node("worker-1a", rack="2"), node("worker-1a", rack="1")))
    assert answer["allowed"] is True
    [warning] = answer["warnings"]  # three rack-2 nodes now: a warning, not a denial
    assert warning.startswith("[pool-capacity] IPPool/rack-2 (10.10.2.0/24) has 256 addresses for 3 nodes "
                              "that can run 330 pods")


def test_a_new_node_of_a_served_rack_is_allowed(server: Server) -> None:
    assert server.review(review("CREATE", node("worker-2c", rack="2")))["allowed"] is True


def test_a_kubelet_registering_an_unserved_node_is_admitted_with_the_finding(server: Server) -> None:
    answer = server.review(review("CREATE", node("worker-9a", rack="9")))
    assert answer["allowed"] is True
    assert answer["warnings"][0].startswith("would be denied: [node-unselected] Node/worker-9a (rack=9) is "
                                            "selected by no enabled IPv4 pool")


def test_a_pool_the_cluster_marks_unallocatable_can_still_be_fixed(server: Server) -> None:
    """The status is the cluster's verdict, not the writer's: an update that disables the pool must pass."""
    status = {"conditions": [{"type": "Allocatable", "status": "False", "reason": "CIDROverlap",
                              "message": "overlaps old-default"}]}
    old = dict(pool("rack-1", "10.10.1.0/24", 'rack == "1"'), status=status)
    new = dict(pool("rack-1", "10.10.1.0/24", 'rack == "1"'), status=status)
    new["spec"] = dict(new["spec"], natOutgoing=True)
    answer = server.review(review("UPDATE", new, old))
    assert answer["allowed"] is True, answer
    assert any(w.startswith("pre-existing: [pool-status-unallocatable]") for w in answer["warnings"])


def test_a_reservation_that_swallows_a_pool_is_denied(server: Server) -> None:
    reservation = {"apiVersion": V3, "kind": "IPReservation", "metadata": {"name": "oops"},
                   "spec": {"reservedCIDRs": ["10.10.2.0/25", "10.10.2.128/25"]}}
    answer = server.review(review("CREATE", reservation))
    assert answer["allowed"] is False
    assert "[reservation-covers-pool] IPPool/rack-2 (10.10.2.0/24) is entirely reserved by " \
        "IPReservation/gateways, IPReservation/oops" in answer["status"]["message"]


def test_an_installation_is_judged_by_the_pools_it_will_create(server: Server) -> None:
    def installation(cidr: str) -> dict[str, object]:
        entry = {"name": "fallback", "cidr": cidr, "encapsulation": "VXLAN"}
        return {"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                "metadata": {"name": "default"}, "spec": {"calicoNetwork": {"ipPools": [entry]}}}

    denied = server.review(review("CREATE", installation("10.10.0.0/20")))
    assert denied["allowed"] is False
    message = denied["status"]["message"]
    assert "[pool-overlap]" in message and "IPPool/fallback" in message
    assert server.review(review("CREATE", installation("10.50.0.0/16")))["allowed"] is True


def test_a_dry_run_is_judged_the_same_and_changes_nothing(server: Server) -> None:
    rack_2 = pool("rack-2", "10.10.2.0/24", 'rack == "2"', natOutgoing=True)
    dry = server.review(review("DELETE", old=rack_2, dry_run=True))
    wet = server.review(review("DELETE", old=rack_2))
    assert dry["allowed"] is wet["allowed"] is False
    assert dry["status"] == wet["status"]
    overlapping = pool("rack-2-bis", "10.10.2.0/25", 'rack == "2"')
    assert server.review(review("CREATE", overlapping, dry_run=True))["allowed"] is False
    assert server.review(review("CREATE", overlapping, dry_run=True))["allowed"] is False


def test_other_kinds_are_allowed_untouched(server: Server) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}}
    answer = server.review(review("CREATE", pod, uid="fixed-uid"))
    assert answer == {"uid": "fixed-uid", "allowed": True}
    deleted_node = server.review(review("DELETE", old=node("worker-1a", rack="1"), uid="node-delete"))
    assert deleted_node == {"uid": "node-delete", "allowed": True}


def test_the_exemption_annotation_is_honoured(server: Server) -> None:
    exempt = pool("lab", "10.10.3.0/24", 'rack == "1"')
    exempt["metadata"]["annotations"] = {"ippool-validator.io/ignore": "pool-overlap",
                                         "ippool-validator.io/ignore-reason": "lab pool, overlap on purpose"}
    assert server.review(review("CREATE", exempt))["allowed"] is True


def test_the_server_logs_denials(server: Server, tmp_path: Path) -> None:
    server.review(review("DELETE", old=pool("rack-2", "10.10.2.0/24", 'rack == "2"')))
    assert "denied DELETE IPPool/rack-2" in server.logs()


def test_an_update_may_not_change_what_calico_keeps_immutable(server: Server) -> None:
    old = pool("rack-1", "10.10.1.0/24", 'rack == "1"', natOutgoing=True)
    moved = pool("rack-1", "10.11.1.0/24", 'rack == "1"', natOutgoing=True)
    answer = server.review(review("UPDATE", moved, old))
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert message.startswith("updating IPPool/rack-1: [pool-immutable-field] IPPool/rack-1: spec.cidr "
                              "changed from 10.10.1.0/24 to 10.11.1.0/24")
    assert "migrate" in message
    resized = pool("rack-1", "10.10.1.0/24", 'rack == "1"', natOutgoing=True, blockSize=28)
    answer = server.review(review("UPDATE", resized, old))
    assert "blockSize changed from 26 to 28" in answer["status"]["message"]
    balancer = pool("lb", "10.60.0.0/24", allowedUses=["LoadBalancer"])
    workload = pool("lb", "10.60.0.0/24", allowedUses=["Workload"])
    answer = server.review(review("UPDATE", workload, balancer))
    assert answer["allowed"] is False and "from LoadBalancer to Workload" in answer["status"]["message"]
