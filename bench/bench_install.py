"""What the pre-commit hook costs a user the first time, next to yamllint's hook. Run by hand; prints a table.

    python bench/bench_install.py              # 2 rounds of each hook
    python bench/bench_install.py --rounds 3

Both hooks are run the way users run them: a `.pre-commit-config.yaml` naming a hook repository and a rev,
and `pre-commit run --all-files` in a fresh store (PRE_COMMIT_HOME), so the first run builds the hook's
virtualenv (no system site-packages) and pip-installs the hook's package from its repository:
  ippool-validator   a git repository made from this working tree (the package, .pre-commit-hooks.yaml)
  yamllint           a git repository made from yamllint's newest sdist on PyPI, with its own
                     .pre-commit-hooks.yaml when the sdist carries one, else upstream's hook definition
Both lint the same target repository (this project's examples/). pip's cache is shared by both (downloads
come from it after the first round), so what is measured is building the environment and the first lint.
Rounds alternate between the hooks, so that a busy machine slows them alike.

Per hook: first-run seconds (store empty), second-run seconds (environment built), the environment's size
on disk in MB (du of the py_env folder), and its package count (dist-info folders; pip, setuptools and
wheel, which virtualenv may seed into an environment, counted apart).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SEEDS = {"pip", "setuptools", "wheel"}
YAMLLINT_HOOK = [{"id": "yamllint", "name": "yamllint", "description": "This hook runs yamllint.",
                  "entry": "yamllint", "language": "python", "types": ["file", "yaml"]}]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PRE_COMMIT", "VIRTUALENV_", "PYTHONPATH", "PIP_NO_", "VIRTUAL_ENV"))}
    env.update(PRE_COMMIT_HOME=str(home), GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="bench",
               GIT_COMMITTER_EMAIL="bench@example.com", PYTHONNOUSERSITE="1")
    return env


def git_repo(folder: Path, env: dict[str, str]) -> str:
    """Commit everything in `folder` as a new repository; returns the commit."""
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def our_hook_repo(work: Path, env: dict[str, str]) -> tuple[Path, str]:
    repo = work / "ippool-validator"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(REPO / "validator", repo / "validator", ignore=ignore)
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md"):
        shutil.copy2(REPO / name, repo / name)
    return repo, git_repo(repo, env)


def yamllint_hook_repo(work: Path, env: dict[str, str]) -> tuple[Path, str, str]:
    """yamllint's newest sdist from PyPI, unpacked into a git repository; returns (repo, rev, version)."""
    download = work / "sdist"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    "-d", str(download), "yamllint"], env=env, check=True, capture_output=True)
    [sdist] = download.glob("yamllint-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    [repo] = [p for p in work.glob("yamllint-*") if p.is_dir()]
    version = repo.name.removeprefix("yamllint-")
    if not (repo / ".pre-commit-hooks.yaml").exists():
        (repo / ".pre-commit-hooks.yaml").write_text(yaml.safe_dump(YAMLLINT_HOOK, sort_keys=False))
    return repo, git_repo(repo, env), version


def target_repo(work: Path, name: str, hook_repo: Path, rev: str, hook_id: str, env: dict[str, str]) -> Path:
    target = work / f"target-{name}"
    shutil.copytree(REPO / "examples", target / "examples")
    config = {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": hook_id}]}]}
    (target / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git_repo(target, env)
    return target


def run_hook(target: Path, env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=target, env=env,
                          capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"pre-commit failed ({done.returncode}) in {target}:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.returncode


def du_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def measure_environment(home: Path) -> tuple[float, int, int]:
    """(MB, packages, seeded packages) of the one hook environment in the store at `home`."""
    [env_dir] = home.glob("*/py_env-*")
    infos = env_dir.glob("lib/python*/site-packages/*.dist-info")
    names = {p.name.split("-")[0].lower().replace("_", "-") for p in infos}
    return du_bytes(env_dir) / 1e6, len(names - SEEDS), len(names & SEEDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        work = Path(tmp)
        env = environment(work / "unused-store")
        ours, ours_rev = our_hook_repo(work, env)
        theirs, theirs_rev, version = yamllint_hook_repo(work, env)
        hooks = {"ippool-validator": target_repo(work, "ours", ours, ours_rev, "ippool-validator", env),
                 f"yamllint {version} (the baseline)": target_repo(work, "yamllint", theirs, theirs_rev,
                                                                   "yamllint", env)}
        results: dict[str, dict[str, list[float]]] = {name: {"first": [], "second": []} for name in hooks}
        sizes: dict[str, tuple[float, int, int]] = {}
        codes: dict[str, int] = {}
        for round_no in range(args.rounds):
            for name, target in hooks.items():
                store = work / f"store-{round_no}-{name.split()[0]}"
                hook_env = environment(store)
                first, codes[name] = run_hook(target, hook_env)
                second, _ = run_hook(target, hook_env)
                results[name]["first"].append(first)
                results[name]["second"].append(second)
                sizes[name] = measure_environment(store)
                shutil.rmtree(store)
                print(f"round {round_no + 1}: {name}: first run {first:.1f} s, second {second:.2f} s",
                      file=sys.stderr)

    base = next(name for name in hooks if "baseline" in name)
    load = f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"\n{args.rounds} rounds; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs, {load} "
          "(other jobs share the machine); medians\n")
    print("| hook | first run (s) | ratio | second run (s) | environment (MB) | ratio | packages "
          "(+ seeded pip, setuptools, wheel) | exit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in hooks:
        first = statistics.median(results[name]["first"])
        second = statistics.median(results[name]["second"])
        mb, count, seeds = sizes[name]
        print(f"| {name} | {first:.1f} | {first / statistics.median(results[base]['first']):.2f}x | "
              f"{second:.2f} | {mb:.1f} | {mb / sizes[base][0]:.2f}x | {count} (+{seeds}) | {codes[name]} |")
    every = {name: [round(t, 1) for t in r["first"]] for name, r in results.items()}
    print("\nfirst runs, every round:", every)


if __name__ == "__main__":
    main()
