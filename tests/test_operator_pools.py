"""Installation pools are named as the tigera operator names them (pkg/controller/ippool/defaults.go
`fillDefaults`), so findings match `kubectl get ippools` and clashes with explicit IPPools are caught."""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_support import lint_paths

from validator.sources.manifests import operator_pool_names


def installation(entries: list[str], name: str = "default") -> str:
    pools = "".join(f"    - {entry}\n" for entry in entries)
    return (f"apiVersion: operator.tigera.io/v1\nkind: Installation\nmetadata: {{name: {name}}}\nspec:\n"
            f"  calicoNetwork:\n    ipPools:\n{pools}")


@pytest.mark.parametrize("cidrs,names", [
    (["10.244.0.0/16"], ["default-ipv4-ippool"]),
    (["fd00:10:244::/48"], ["default-ipv6-ippool"]),
    (["10.244.0.0/16", "fd00:10:244::/48"], ["default-ipv4-ippool", "default-ipv6-ippool"]),
    (["fd00:10:244::/48", "10.244.0.0/16"], ["default-ipv6-ippool", "default-ipv4-ippool"]),
    (["10.244.0.0/16", "10.245.0.0/16"], ["10.244.0.0-16", "10.245.0.0-16"]),
    (["10.244.0.0/16", "fd00:10:244::/48", "10.245.0.0/24"],
     ["10.244.0.0-16", "fd00.0010.0244.0000.0000.0000.0000.0000-48", "10.245.0.0-24"]),
    (["10.244.7.1/16"], ["default-ipv4-ippool"]),
    (["10.244.7.1/16", "10.245.0.0/16"], ["10.244.0.0-16", "10.245.0.0-16"]),  # masked, as net.ParseCIDR
    (["not-a-cidr"], [None]),
])
def test_unnamed_entries_get_the_operators_names(cidrs: list[str], names: list[str | None]) -> None:
    assert operator_pool_names([{"cidr": cidr} for cidr in cidrs]) == names


def test_a_given_name_wins_and_counts_towards_the_entries() -> None:
    assert operator_pool_names([{"name": "mine", "cidr": "10.1.0.0/16"}, {"cidr": "fd00::/48"}]) == [
        "mine", "default-ipv6-ippool"]
    assert operator_pool_names([{"name": "mine", "cidr": "10.1.0.0/16"}, {"cidr": "10.2.0.0/16"}]) == [
        "mine", "10.2.0.0-16"]


def test_findings_name_the_pool_and_keep_the_entry(tmp_path: Path) -> None:
    (tmp_path / "installation.yaml").write_text(installation(["{cidr: 10.244.0.0/16, blockSize: 33}"]))
    [finding] = lint_paths(tmp_path).of("block-size-invalid")
    assert finding.resource is not None and finding.resource.name == "default-ipv4-ippool"
    assert finding.message.startswith(
        "IPPool/default-ipv4-ippool from Installation/default spec.calicoNetwork.ipPools[0]: blockSize 33")
    assert finding.source is not None and finding.source.line == 7


def test_an_explicit_pool_of_the_operators_default_name_is_a_duplicate(tmp_path: Path) -> None:
    (tmp_path / "installation.yaml").write_text(installation(["{cidr: 10.244.0.0/16}"]))
    (tmp_path / "pool.yaml").write_text("apiVersion: projectcalico.org/v3\nkind: IPPool\n"
                                        "metadata: {name: default-ipv4-ippool}\nspec: {cidr: 10.96.0.0/16}\n")
    [finding] = lint_paths(tmp_path).of("pool-name-duplicate")
    assert "'default-ipv4-ippool'" in finding.message


def test_a_non_default_installations_pools_are_not_read(tmp_path: Path) -> None:
    """They never exist (the operator reconciles only `default`): judging them would be false alarms."""
    (tmp_path / "installation.yaml").write_text(installation(["{cidr: 10.244.0.0/16, blockSize: 40}"],
                                                             name="calico"))
    (tmp_path / "pool.yaml").write_text("apiVersion: projectcalico.org/v3\nkind: IPPool\n"
                                        "metadata: {name: default-ipv4-ippool}\n"
                                        "spec: {cidr: 10.244.0.0/16}\n")
    linted = lint_paths(tmp_path)
    assert [p.name for p in linted.cluster.pools] == ["default-ipv4-ippool"]
    assert linted.rules() == ["installation-not-default"]
