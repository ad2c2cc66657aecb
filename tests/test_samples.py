"""A manifest repository as teams keep them (tests/samples/manifest-repo), linted by the real pre-commit.

It holds a Helm chart (templates with `{{ }}`), an mkdocs site (`!!python/name:` tags), CloudFormation
(`!Ref`, `!GetAtt`), kustomize bases and overlays, CI workflows (Azure's `${{ }}` keys, GitLab's
`!reference`), Jinja snippets excluded by its policy file, and one real mistake: IPPool/rack-7 lies inside
the pool the operator creates from the Installation. Only that mistake may be reported. The hook runs as
tests/test_precommit.py runs it (its hook repository and isolated git and pre-commit, imported from there).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from lint_support import run_cli
from test_precommit import HOOK_ID, environment, git, make_hook_repo, pre_commit

SAMPLE = Path(__file__).parent / "samples" / "manifest-repo"
MISTAKE = ("clusters/prod/pools.yaml:2: error pool-overlap: IPPool/rack-7 (10.244.7.0/24) overlaps "
           "IPPool/default-ipv4-ippool from Installation/default spec.calicoNetwork.ipPools[0] "
           "(10.244.0.0/16) at clusters/prod/installation.yaml:8")
HELM_TEMPLATES = ["charts/calico-pools/templates/fallback.yaml",
                  "charts/calico-pools/templates/ippools.yaml"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("samples-precommit-home")


@pytest.fixture(scope="module")
def hook_repo(home: Path) -> Path:
    return make_hook_repo(home)


def sample_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "manifests"
    shutil.copytree(SAMPLE, repo)
    return repo


def test_only_the_mistake_is_reported(tmp_path: Path) -> None:
    repo = sample_copy(tmp_path)
    done = run_cli(["lint", "--format", "json"], cwd=repo)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [(f["rule"], f["file"], f["line"]) for f in report["findings"]] == [
        ("pool-overlap", "clusters/prod/pools.yaml", 2)]
    assert [s["file"] for s in report["skipped"]] == HELM_TEMPLATES
    assert report["summary"]["pools"] == 3


def test_the_hook_reports_only_the_mistake_and_passes_once_it_is_fixed(tmp_path: Path, hook_repo: Path,
                                                                       home: Path) -> None:
    repo = sample_copy(tmp_path)
    env = environment(home)
    rev = git(hook_repo, env, "rev-parse", "HEAD").stdout.strip()
    config = {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": HOOK_ID}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git(repo, env, "init", "-q", "-b", "main")
    git(repo, env, "add", ".")
    failed = pre_commit(repo, env, "run", "--all-files")
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert MISTAKE in failed.stdout
    errors = [line for line in failed.stdout.splitlines() if ": error " in line or ": warning " in line]
    assert len(errors) == 1, output
    for template in HELM_TEMPLATES:
        assert f"{template}: skipped: Helm chart template" in failed.stdout
    assert "docs/snippets" not in failed.stdout, "excluded by the sample's policy file"

    pools = repo / "clusters" / "prod" / "pools.yaml"
    pools.write_text(pools.read_text().replace("10.244.7.0/24", "10.247.7.0/24"))
    git(repo, env, "add", ".")
    passed = pre_commit(repo, env, "run", "--all-files", "--verbose")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "0 errors, 0 warnings in 12 files (3 pools, 0 nodes)" in passed.stdout
