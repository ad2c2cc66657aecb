"""Arrays past their schema's maxItems: one located finding, and a cost that does not grow with the excess
(an Installation's ipPools beyond what its CRD allows never exist in a cluster)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lint_support import run_cli

from validator import schemas
from validator.sources.manifests import OPERATOR_MAX_POOLS


def installation(count: int) -> str:
    pools = [{"name": f"p-{i}", "cidr": f"10.{i // 256}.{i % 256}.0/24", "nodeSelector": "all()"}
             for i in range(count)]
    return json.dumps({"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
                       "metadata": {"name": "default"}, "spec": {"calicoNetwork": {"ipPools": pools}}})


def test_the_reader_builds_as_many_operator_pools_as_the_crd_allows() -> None:
    limit = schemas.load("installation")["properties"]["spec"]["properties"]["calicoNetwork"]["properties"][
        "ipPools"]["maxItems"]
    assert OPERATOR_MAX_POOLS == limit == 25


@pytest.mark.parametrize("count", [25, 26, 4000])
def test_an_oversized_installation_is_one_located_finding(tmp_path: Path, count: int) -> None:
    (tmp_path / "installation.json").write_text(installation(count))
    done = run_cli(["lint", "--format", "json", "installation.json"], cwd=tmp_path)
    report = json.loads(done.stdout)
    schema = [f for f in report["findings"] if f["rule"] == "schema-invalid"]
    assert report["summary"]["pools"] == min(count, OPERATOR_MAX_POOLS)
    if count <= OPERATOR_MAX_POOLS:
        assert not schema and done.returncode == 0, done.stdout
    else:
        assert done.returncode == 1
        [finding] = schema
        assert "spec.calicoNetwork.ipPools has more than 25 items" in finding["message"]
        assert finding["line"] == 1 and "p-30" not in finding["message"]


def test_the_cut_keeps_one_item_past_the_limit_and_follows_nested_arrays() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "array", "maxItems": 2, "items": {
        "type": "object", "properties": {"b": {"type": "array", "maxItems": 1}}}}}}
    value = {"a": [{"b": [1, 2, 3, 4]}, {"b": []}, {}, {}, {}], "other": [1] * 50}
    cut = schemas.past_max_items_cut(value, schema)
    assert cut == {"a": [{"b": [1, 2]}, {"b": []}, {}], "other": [1] * 50}
    assert value["a"][0]["b"] == [1, 2, 3, 4]  # the instance itself is left as it was
    errors = schemas.errors("installation", json.loads(installation(30)))
    assert [e.validator for e in errors] == ["maxItems"]
