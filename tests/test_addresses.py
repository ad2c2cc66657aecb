"""One address parser for every place that reads one, refusing what Go's net.ParseCIDR / ParseIP refuse
(Calico and the operator parse with them): IPv6 zones, netmask prefixes, bare addresses as CIDRs."""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_support import lint_paths

from validator.addresses import AddressError, parse_address, parse_network
from validator.config import ConfigError, parse_config

ZONED = ["2001:db8::%eth0/64", "fd00:10::%25/64", "fe80::%1/64"]
REFUSED = [*ZONED, "10.0.0.0/255.255.0.0", "10.0.0.0/0.0.255.255", "10.0.0.0", "10.0.0.0/+8", "10.0.0.0/ 8",
           "010.0.0.0/8", "10.0.0.0/33", "/8", ""]


@pytest.mark.parametrize("text", REFUSED)
def test_parse_network_refuses_what_go_refuses(text: str) -> None:
    with pytest.raises(AddressError):
        parse_network(text, strict=False)


@pytest.mark.parametrize("text", ["10.0.0.0/8", "10.0.0.0/008", "fd00::/8", "::ffff:10.0.0.0/104",
                                  "0.0.0.0/0"])
def test_parse_network_accepts_cidrs(text: str) -> None:
    assert parse_network(text, strict=True).prefixlen == int(text.rsplit("/", 1)[1])


def test_parse_network_strict_refuses_host_bits_only_when_asked() -> None:
    with pytest.raises(AddressError):
        parse_network("10.244.102.1/24")
    assert str(parse_network("10.244.102.1/24", strict=False)) == "10.244.102.0/24"


@pytest.mark.parametrize("text", ["fe80::1%eth0", "::1%lo", "10.0.0.1%x"])
def test_parse_address_refuses_zones(text: str) -> None:
    with pytest.raises(AddressError, match="zone"):
        parse_address(text)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("cidr", ZONED)
def test_a_zoned_pool_is_cidr_invalid_at_the_pool(tmp_path: Path, cidr: str) -> None:
    linted = lint_paths(_write(tmp_path / "p.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\n"
                               f"metadata: {{name: zoned}}\nspec: {{cidr: '{cidr}'}}\n"))
    [finding] = linted.of("cidr-invalid")
    assert "zone" in finding.message and finding.resource is not None and finding.resource.name == "zoned"


def test_a_zoned_operator_pool_is_cidr_invalid(tmp_path: Path) -> None:
    linted = lint_paths(_write(tmp_path / "i.yaml", "apiVersion: operator.tigera.io/v1\nkind: Installation\n"
                               "metadata: {name: default}\nspec:\n  calicoNetwork:\n    ipPools:\n"
                               "    - {name: v6, cidr: 'fd00:10::%eth0/64'}\n"))
    [finding] = linted.of("cidr-invalid")
    assert "zone" in finding.message


@pytest.mark.parametrize("entry", ["fd00::%eth0/120", "fe80::1%eth0"])
def test_a_zoned_reservation_is_ipreservation_invalid(tmp_path: Path, entry: str) -> None:
    linted = lint_paths(_write(tmp_path / "r.yaml", "apiVersion: projectcalico.org/v3\nkind: IPReservation\n"
                               f"metadata: {{name: r}}\nspec: {{reservedCIDRs: ['{entry}']}}\n"))
    [finding] = linted.of("ipreservation-invalid")
    assert "zone" in finding.hint
    assert linted.cluster.reservations[0].networks == ()


@pytest.mark.parametrize("key", ["allowed-cidrs: ['{c}']", "reserved-cidrs: [{{cidr: '{c}', reason: x}}]"])
@pytest.mark.parametrize("cidr", ZONED)
def test_a_zoned_policy_cidr_is_a_located_config_error(key: str, cidr: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("max-pods: 110\n" + key.format(c=cidr) + "\n", "policy.yaml")
    assert caught.value.problems[0].startswith("policy.yaml:2: ")


@pytest.mark.parametrize(("allowed", "warned"), [([], True), (["172.100.0.0/16"], False),
                                                  (["172.0.0.0/8"], False), (["172.100.1.0/24"], True),
                                                  (["fd00::/8"], True)])
def test_cidr_public_is_silenced_only_by_an_allowed_cidr_that_covers_the_pool(
        tmp_path: Path, allowed: list[str], warned: bool) -> None:
    from validator.config import Config, parse_config

    pool = _write(tmp_path / "p.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\n"
                  "metadata: {name: pods}\nspec: {cidr: 172.100.0.0/16}\n")
    config = parse_config(f"allowed-cidrs: {allowed}\n") if allowed else Config()
    assert bool(lint_paths(pool, config=config).of("cidr-public")) is warned
