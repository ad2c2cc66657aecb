"""A generated cluster for counting the exporter's series and timing its pass at scale (no I/O).

`state(nodes, racks)`: `racks` rack pools (a /16 each, /26 blocks, `rack == "r"` selectors; one pool of all
nodes when racks is 0), nodes spread evenly over the racks, each affine to 2 blocks of its rack's pool
holding `pods` pod addresses and a VXLAN tunnel address, as tests/ipam_support.py shapes them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from validator.audit import convert
from validator.audit.model import AuditState
from validator.model import Cluster, Source
from validator.sources.manifests import add_object

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
STAMP = "2026-11-30 12:00:00.123456789 +0000 UTC"


def _pool(name: str, cidr: str, selector: str) -> dict[str, object]:
    return {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": name},
            "spec": {"cidr": cidr, "blockSize": 26, "nodeSelector": selector, "vxlanMode": "Always"}}


def _node(name: str, rack: int) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "rack": str(rack)}},
            "status": {"allocatable": {"pods": "110"}}}


def _block(cidr: str, node: str, owners: list[tuple[str, dict[str, str]]]) -> dict[str, object]:
    return {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMBlock",
            "metadata": {"name": cidr.replace(".", "-").replace("/", "-")},
            "spec": {"cidr": cidr, "affinity": f"host:{node}",
                     "allocations": list(range(len(owners))) + [None] * (64 - len(owners)),
                     "unallocated": list(range(len(owners), 64)),
                     "attributes": [{"handle_id": h, "secondary": a} for h, a in owners]}}


def state(nodes: int, racks: int, pods: int = 0) -> AuditState:
    cluster = Cluster()
    pools = max(racks, 1)
    for r in range(pools):
        cidr = f"10.{r}.0.0/16" if racks else "10.16.0.0/12"
        add_object("gen", 1, _pool(f"rack-{r}" if racks else "default", cidr,
                                   f'rack == "{r}"' if racks else "all()"), cluster)
    blocks = []
    for n in range(nodes):
        rack, index = n % pools, n // pools
        name = f"node-{n:05}"
        add_object("gen", 1, _node(name, rack), cluster)
        tunnel = {"node": name, "type": "vxlanTunnelAddress", "timestamp": STAMP}
        owners = [(f"vxlan-tunnel-addr-{name}", tunnel)]
        owners += [(f"k8s-pod-network.{name}.{p}", {"namespace": "apps", "pod": f"{name}-{p}", "node": name,
                                                    "timestamp": STAMP}) for p in range(pods)]
        for b in range(2):
            start = (10 << 24 | rack << 16) + (2 * index + b) * 64 if racks else \
                (10 << 24 | 16 << 16) + (2 * n + b) * 64
            cidr = f"{start >> 24}.{start >> 16 & 255}.{start >> 8 & 255}.{start & 255}/26"
            found = convert.block(_block(cidr, name, owners[b * 64:(b + 1) * 64]), Source("gen"))
            assert found is not None
            blocks.append(found)
    return AuditState(pools=cluster.pools, nodes=cluster.nodes, ipam=cluster.ipam_settings, blocks=blocks,
                      nodes_known=True, taken_at=NOW, pods={}, handles=[])


def kube_controllers_series(nodes: int, pools: int) -> int:
    """kube-controllers' zero-seeded per-(pool, node) series: in_use, borrowed and gc_candidates for every
    node under every pool (kube-controllers/pkg/controllers/node/ipam.go createZeroedMapForNodeValues)."""
    return 3 * pools * nodes
