"""The audit rules' logic, one generator per rule; each rule module in `validator.rules` documents and
registers one of these. They read an `AuditContext` and yield findings; nothing here reads input."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from ..model import Finding, Related, family_name
from .analysis import Leak
from .context import AuditContext
from .utilisation import selecting_pools

EXAMPLES = 3


def _age(age: timedelta | None) -> str:
    if age is None:
        return "age unknown"
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"allocated {minutes} min ago"
    hours = minutes // 60
    return f"allocated {hours} h ago" if hours < 72 else f"allocated {hours // 24} days ago"


_WHY = {
    "pod-gone": "pod {ns}/{pod} does not exist",
    "pod-moved": "pod {ns}/{pod} now runs on another node",
    "pod-evicted": "pod {ns}/{pod} was evicted",
    "ip-mismatch": "pod {ns}/{pod} does not have this address",
    "tunnel-node-gone": "it is the {type} of node {node}, which no longer exists",
}


def leaked_addresses(ctx: AuditContext) -> Iterator[Finding]:
    grace = ctx.policy.leak_grace
    for leak in ctx.analysis.leaks:
        if not leak.confirmed:
            continue
        yield ctx.finding(
            _leak_message(leak, grace),
            leak.block.resource,
            leak.block.source,
            "kube-controllers releases confirmed leaks by itself (is it running?); else "
            "`calicoctl ipam check --show-problem-ips -o report.json` and `calicoctl ipam "
            "release --from-report report.json` (that needs the datastore lock)",
            subject=leak.ip,
        )


def _leak_message(leak: Leak, grace: timedelta) -> str:
    a = leak.allocation
    why = _WHY[leak.why].format(ns=a.namespace, pod=a.pod, type=a.type, node=a.node)
    node_gone = (
        a.node
        and leak.why != "tunnel-node-gone"
        and leak.confirmed
        and (leak.age is None or leak.age < grace)
    )
    past = f"node {a.node} is gone" if node_gone else f"past the {int(grace.total_seconds() // 60)} min grace"
    return (
        f"{leak.ip} in {leak.block.resource} is leaked: {why} (handle {a.handle}, {_age(leak.age)} on "
        f"{a.node or 'an unknown node'}; {past})"
    )


def orphaned_handles(ctx: AuditContext) -> Iterator[Finding]:
    check = ctx.analysis.handles
    for handle in check.orphaned if check is not None else ():
        claimed = list(handle.blocks.items())[:EXAMPLES]
        blocks = ", ".join(f"{cidr} ({count})" for cidr, count in claimed) or "none"
        yield ctx.finding(
            f"{handle.resource} (handle {handle.handle_id}) names no allocated address; it claims {blocks}",
            handle.resource,
            handle.source,
            "kube-controllers does not collect handles whose addresses are gone (calico#8548): "
            "delete it, or `calicoctl ipam release --from-report` an `ipam check` report",
        )


def missing_handles(ctx: AuditContext) -> Iterator[Finding]:
    check = ctx.analysis.handles
    for handle_id, blocks in sorted(check.missing.items()) if check is not None else ():
        first = blocks[0]
        more = f" and {len(blocks) - 1} more block(s)" if len(blocks) > 1 else ""
        yield ctx.finding(
            f"addresses in {first.resource}{more} belong to handle {handle_id}, which has no IPAMHandle",
            first.resource,
            first.source,
            "release through Calico IPAM (calicoctl ipam release) rather than editing blocks; "
            "a missing handle makes the addresses unreleasable by handle",
            subject=handle_id,
        )


def invalid_blocks(ctx: AuditContext) -> Iterator[Finding]:
    from .analysis import parse_time

    for block in ctx.state.blocks:
        problems = list(block.problems)
        future = [
            a for a in block.allocations if a.released_at and (t := parse_time(a.released_at)) and t > ctx.now
        ]
        if future:
            problems.append(f"{len(future)} address(es) have releasedAt in the future (clock skew?)")
        if problems:
            yield ctx.finding(
                f"{block.resource} ({block.network}) is inconsistent: {'; '.join(problems)}",
                block.resource,
                block.source,
                "never edit IPAMBlocks by hand; Calico IPAM may hand out or lose these addresses",
            )


def stale_affinities(ctx: AuditContext) -> Iterator[Finding]:
    nodes = ctx.analysis.node_names
    blocks = {str(b.network): b for b in ctx.state.blocks}
    affine = set()
    for affinity in ctx.state.affinities:
        if affinity.type != "host":
            continue
        affine.add((affinity.node, affinity.cidr))
        state = affinity.state or "confirmed"
        if affinity.node not in nodes:
            what = {"pending": "is pending for", "pendingDeletion": "is stuck pendingDeletion for"}.get(
                state, "is held by"
            )
            yield ctx.finding(
                f"{affinity.resource} ({affinity.cidr}) {what} node {affinity.node}, which no longer exists",
                affinity.resource,
                affinity.source,
                "kube-controllers releases affinities of deleted nodes once their addresses "
                "are gone: check it runs, and that no allocation still holds the block",
            )
        elif state == "confirmed" and affinity.cidr not in blocks:
            yield ctx.finding(
                f"{affinity.resource} claims {affinity.cidr} for node {affinity.node}, but no "
                "such IPAMBlock exists, so the node advertises a route for it (calico#4471)",
                affinity.resource,
                affinity.source,
                "delete the affinity",
                subject="no-block",
            )
    for block in ctx.state.blocks:
        host = block.host
        if host and host not in nodes and (host, str(block.network)) not in affine:
            yield ctx.finding(
                f"{block.resource} ({block.network}) is affine to node {host}, which no longer exists",
                block.resource,
                block.source,
                "kube-controllers releases it once its addresses are released",
            )


def pool_free_blocks(ctx: AuditContext) -> Iterator[Finding]:
    threshold = ctx.policy.pool_free_blocks_threshold
    for usage in ctx.usage.pools:
        pool = usage.pool
        if not pool.serves_workloads or not usage.blocks_total:
            continue
        percent = usage.allocated_percent
        if percent < threshold:
            continue
        state = (
            "has no free block: nodes that need one now borrow addresses from other nodes' blocks, "
            "or fail with strictAffinity"
            if not usage.blocks_free
            else f"has {usage.blocks_free} free block(s) left"
        )
        yield ctx.finding(
            f"{pool.resource} ({pool.cidr_text}, /{pool.block_size} blocks) has "
            f"{usage.blocks_allocated} of its {usage.blocks_total} blocks allocated "
            f"({percent:.0f}%, threshold {threshold}%) and {state}",
            pool.resource,
            pool.source,
            "add a pool for the same nodes, or a smaller blockSize for a new pool; free "
            "addresses do not help a node that needs a whole block",
        )


def node_headroom(ctx: AuditContext) -> Iterator[Finding]:
    for usage in ctx.usage.nodes:
        if usage.node is None:
            continue
        for family in usage.short_families():
            capacity = family.capacity(usage.max_blocks)
            short = usage.max_pods - family.pods - capacity
            yield ctx.finding(
                f"{usage.node.resource} holds {family.blocks} of its {usage.max_blocks} "
                f"{family_name(family.family)}"
                f" blocks (maxBlocksPerHost) in the pools that select it, with {family.free_in_blocks} "
                "free address(es): it runs "
                f"{family.pods} pods and can get {capacity} more addresses, {short} short of its "
                f"{usage.max_pods} max pods",
                usage.node.resource,
                usage.node.source,
                "raise maxBlocksPerHost in the IPAMConfiguration, or use a larger block size for this "
                "node's pool; at the limit pods fail with \"cannot allocate new block due to per host "
                'block limit"',
                subject=family_name(family.family),
            )


def cross_topology_borrowing(ctx: AuditContext) -> Iterator[Finding]:
    nodes = {n.name: n for n in ctx.state.nodes}
    selected = {
        name: {id(p) for p in pools}
        for name, pools in selecting_pools(ctx.state.nodes, ctx.state.pools).items()
    }
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    pool_by_name = {}
    for block in ctx.state.blocks:
        usage = ctx.usage.pool_for(block)
        if usage is None:
            continue
        pool = usage.pool
        for allocation in block.allocations:
            node = allocation.node
            if node and node != block.host and node in nodes and id(pool) not in selected[node]:
                found[(node, pool.name)].append(str(block.address(allocation.ordinal)))
                pool_by_name[pool.name] = pool
    for (node_name, pool_name), ips in sorted(found.items()):
        holder, pool = nodes[node_name], pool_by_name[pool_name]
        shown = ", ".join(ips[:EXAMPLES]) + (
            f" and {len(ips) - EXAMPLES} more" if len(ips) > EXAMPLES else ""
        )
        yield ctx.finding(
            f"{holder.resource} holds {len(ips)} address(es) from {pool.resource} "
            f"({pool.cidr_text}), whose nodeSelector {pool.node_selector!r} does not select it: "
            f"{shown}",
            holder.resource,
            holder.source,
            "its own pools ran out of free blocks, so it borrowed; give its pools more blocks, "
            "or set strictAffinity to fail instead of crossing the topology",
            related=[Related(pool.resource, pool.source)],
            subject=pool_name,
        )


def dual_stack_mismatch(ctx: AuditContext) -> Iterator[Finding]:
    for pod in (ctx.state.pods or {}).values():
        if not pod.status_ips or not pod.annotation_ips:
            continue
        calico, status = set(pod.annotation_ips), set(pod.status_ips)
        if calico == status:
            continue
        yield ctx.finding(
            f"{pod.resource}: Calico assigned {', '.join(pod.annotation_ips)} "
            f"(cni.projectcalico.org/podIPs) but status.podIPs lists "
            f"{', '.join(pod.status_ips)}",
            pod.resource,
            pod.source,
            "Kubernetes is configured for fewer IP families than Calico (calico#9312, "
            "#5044): make the cluster dual-stack, or drop the pool of the extra family",
        )
