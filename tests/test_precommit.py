"""The pre-commit hook, run by the real `pre-commit` against throw-away git repositories.

The hook's repository is a fresh git repository holding this working tree's package and
`.pre-commit-hooks.yaml` (so the test checks the code as it is, committed or not). pre-commit creates the
hook's virtualenv and pip-installs the package into it, and `try-repo` does that anew on every call. The
environments are built as users get them: no system site-packages, every dependency (the core install only)
from the package index or pip's cache, so the tests pass from a venv and a system interpreter alike and
catch a dependency the hook needs but the package does not declare. About 10-20 s per environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HOOK_ID = "ippool-validator"
TIMEOUT = 900

DEFAULT_POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: default}
spec: {cidr: 10.244.0.0/16}
"""
RACK_POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: rack-1}
spec: {cidr: 10.245.1.0/24, nodeSelector: rack == "1"}
"""
NEW_POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: rack-2}
spec: {cidr: CIDR, nodeSelector: rack == "2"}
"""
NODES = """\
apiVersion: v1
kind: NodeList
items:
- {apiVersion: v1, kind: Node, metadata: {name: worker-1, labels: {rack: "1"}}}
- {apiVersion: v1, kind: Node, metadata: {name: worker-2, labels: {rack: "2"}}}
"""


def environment(home: Path) -> dict[str, str]:
    """Git and pre-commit isolated from the machine's configuration, with their store under `home`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PRE_COMMIT", "VIRTUALENV_", "PYTHONPATH", "PIP_NO_", "VIRTUAL_ENV"))}
    env.update(PRE_COMMIT_HOME=str(home / "pre-commit"), GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Test", GIT_AUTHOR_EMAIL="test@example.com",
               GIT_COMMITTER_NAME="Test", GIT_COMMITTER_EMAIL="test@example.com", PYTHONNOUSERSITE="1")
    return env


def hook_environments(home: Path) -> list[Path]:
    """The python of every virtualenv pre-commit built for a hook in its store under `home` (`try-repo`
    builds its own in a temporary store, gone when it returns)."""
    return sorted((home / "pre-commit").glob("*/py_env-*/bin/python"))


def importable(python: Path, *modules: str) -> list[str]:
    probe = f"import importlib.util as u; print(' '.join(m for m in {modules!r} if u.find_spec(m)))"
    done = subprocess.run([str(python), "-I", "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def run(args: list[str], cwd: Path, env: dict[str, str],
        check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def git(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run(["git", *args], cwd, env)


def pre_commit(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pre_commit", *args], cwd, env, check=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("precommit-home")


def make_hook_repo(home: Path) -> Path:
    """This project as pre-commit sees a hook repository: a git repository with one commit (also used by
    tests/test_samples.py)."""
    repo = home / "ippool-validator"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in ("validator", "policies"):
        shutil.copytree(ROOT / folder, repo / folder, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, repo / name)
    readme = ROOT / "README.md"
    (repo / "README.md").write_text(readme.read_text() if readme.exists() else "# ippool-validator\n")
    env = environment(home)
    git(repo, env, "init", "-q", "-b", "main")
    git(repo, env, "add", ".")
    git(repo, env, "commit", "-q", "-m", "ippool-validator under test")
    return repo


@pytest.fixture(scope="module")
def hook_repo(home: Path) -> Path:
    return make_hook_repo(home)


@pytest.fixture()
def target(tmp_path: Path, home: Path) -> Iterator[Path]:
    """A repository of manifests: two pools in two files, committed."""
    repo = tmp_path / "manifests"
    (repo / "pools").mkdir(parents=True)
    (repo / "pools" / "default.yaml").write_text(DEFAULT_POOL)
    (repo / "pools" / "rack-1.yaml").write_text(RACK_POOL)
    env = environment(home)
    git(repo, env, "init", "-q", "-b", "main")
    git(repo, env, "add", ".")
    git(repo, env, "commit", "-q", "-m", "pools")
    yield repo


def test_the_hook_manifest_and_the_projects_own_config_are_valid(hook_repo: Path, home: Path) -> None:
    proc = pre_commit(hook_repo, environment(home), "validate-manifest", ".pre-commit-hooks.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    own = pre_commit(ROOT, environment(home), "validate-config", ".pre-commit-config.yaml")
    assert own.returncode == 0, own.stdout + own.stderr
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["language"], hook["entry"]) == (HOOK_ID, "python", "ippool-validator lint")
    assert hook["pass_filenames"] is False and hook["always_run"] is True


def test_try_repo_fails_on_an_overlap_with_a_pool_in_another_file(target: Path, hook_repo: Path,
                                                                 home: Path) -> None:
    env = environment(home)
    (target / "pools" / "rack-2.yaml").write_text(NEW_POOL.replace("CIDR", "10.244.2.0/24"))
    git(target, env, "add", "pools/rack-2.yaml")

    failed = pre_commit(target, env, "try-repo", str(hook_repo), HOOK_ID)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"{HOOK_ID}." in failed.stdout and "Failed" in failed.stdout
    assert ("pools/rack-2.yaml:1: error pool-overlap: IPPool/rack-2 (10.244.2.0/24) overlaps IPPool/default "
            "(10.244.0.0/16) at pools/default.yaml:1") in failed.stdout

    (target / "pools" / "rack-2.yaml").write_text(NEW_POOL.replace("CIDR", "10.245.2.0/24"))
    git(target, env, "add", "pools/rack-2.yaml")
    passed = pre_commit(target, env, "try-repo", str(hook_repo), HOOK_ID)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


def test_installed_hook_blocks_a_commit_that_only_deletes_a_file(target: Path, hook_repo: Path,
                                                                 home: Path) -> None:
    """With a pool per rack and no fallback, deleting rack 2's pool strands a node declared in another file;
    pre-commit passes no deleted files to hooks, which is why the hook runs on every commit (`always_run`)."""
    env = environment(home)
    rev = git(hook_repo, env, "rev-parse", "HEAD").stdout.strip()
    config = {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": HOOK_ID}]}]}
    (target / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    (target / "nodes.yaml").write_text(NODES)
    (target / "pools" / "rack-2.yaml").write_text(NEW_POOL.replace("CIDR", "10.245.2.0/24"))
    git(target, env, "rm", "-q", "pools/default.yaml")
    git(target, env, "add", ".")
    installed = pre_commit(target, env, "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    setup = run(["git", "commit", "-m", "a pool per rack, and the nodes"], target, env, check=False)
    assert setup.returncode == 0, setup.stdout + setup.stderr  # fallback-missing is only a warning

    git(target, env, "rm", "-q", "pools/rack-2.yaml")
    blocked = run(["git", "commit", "-m", "drop rack 2"], target, env, check=False)
    assert blocked.returncode != 0
    assert "nodes.yaml:5: error node-unselected: Node/worker-2" in blocked.stdout + blocked.stderr
    assert git(target, env, "rev-list", "--count", "HEAD").stdout.strip() == "2"

    (target / "pools" / "fallback.yaml").write_text(
        DEFAULT_POOL.replace("default", "fallback").replace("10.244.0.0/16", "10.246.0.0/16"))
    git(target, env, "add", "pools/fallback.yaml")
    allowed = run(["git", "commit", "-m", "drop rack 2, add a fallback pool"], target, env, check=False)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr

    # The hook's environment holds the core install only: none of the webhook extra's packages.
    [python] = hook_environments(home)
    heavy = ("flask", "gunicorn", "prometheus_client", "kubernetes", "cryptography")
    core = ["validator", "yaml", "jsonschema"]
    assert importable(python, *core, *heavy) == core


def test_the_hook_stays_fast_on_a_few_hundred_manifests(tmp_path: Path) -> None:
    """What the hook runs, on 300 pool files and 500 nodes in 10 cluster folders: about 1 s on the reference
    machine. The bound is loose (machines are shared); it catches a lint that grows with pools x pools."""
    for cluster in range(10):
        folder = tmp_path / f"cluster-{cluster}"
        folder.mkdir()
        for i in range(30):
            n = cluster * 30 + i
            (folder / f"pool-{i}.yaml").write_text(
                f"apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {{name: pool-{n}}}\n"
                f"spec: {{cidr: 10.{n // 256}.{n % 256}.0/24, nodeSelector: rack == \"{n % 20}\"}}\n")
        nodes = "".join(f"- {{apiVersion: v1, kind: Node, metadata: {{name: n{cluster}-{j}, "
                        f"labels: {{rack: '{j % 20}'}}}}}}\n" for j in range(50))
        (folder / "nodes.yaml").write_text("apiVersion: v1\nkind: NodeList\nitems:\n" + nodes)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "validator.cli", "lint"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0 and "in 310 files (300 pools, 500 nodes)" in proc.stdout, proc.stdout[-500:]
    assert elapsed < 20, f"lint took {elapsed:.1f} s"
