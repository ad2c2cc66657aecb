"""Start-up: `ippool-validator lint` of one small pool file next to yamllint on the same file. Run by hand.

    python bench/bench_startup.py                 # 40 rounds; builds its venv once (cached, see --venv)
    python bench/bench_startup.py --rounds 20 --importtime

Both tools run as a normal install has them: a fresh virtualenv (default under the system temp folder,
kept between runs) into which pip installs this repository (not editable) and yamllint, with the bytecode
pip compiles at install time. Nothing here sets or clears PYTHONDONTWRITEBYTECODE: a user who sets it
pays for compiling on every run, whichever tool they run.

A round runs each command once, in turn, so that a busy machine (the build machine's 2 cores are shared)
slows them alike; the table gives the median, the fastest and the 90th percentile of wall-clock time over
the rounds, and the ratio of medians to yamllint's:
  python -c pass             the interpreter alone (the venv's python, site included)
  python -c "import yaml"    PyYAML's import, which both linters need
  yamllint FILE              the baseline the aim is set against (issue 15)
  ippool-validator lint FILE the same file, one IPPool; text output, exit 0
Each command's output is checked once before timing, so that a failing command cannot look fast.
--importtime prints the slowest imports of one lint run (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POOL = """\
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 10.244.0.0/16
  blockSize: 26
  ipipMode: Never
  vxlanMode: CrossSubnet
  natOutgoing: true
  nodeSelector: all()
"""


def build_venv(venv: Path, rebuild: bool, source: Path = REPO) -> Path:
    """A virtualenv with the project (this repository, or --source) and yamllint installed as users install
    them; returns its bin/."""
    bin_dir = venv / "bin"
    if rebuild or not (bin_dir / "ippool-validator").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        str(source), "yamllint"], check=True)
    else:  # the repository may have changed since: reinstall it alone, dependencies as they are
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--no-deps", "--force-reinstall", str(source)], check=True)
    return bin_dir


def commands(bin_dir: Path, pool: Path) -> dict[str, list[str]]:
    python = str(bin_dir / "python")
    return {
        "python -c pass": [python, "-c", "pass"],
        'python -c "import yaml"': [python, "-c", "import yaml"],
        "yamllint FILE": [str(bin_dir / "yamllint"), str(pool)],
        "ippool-validator lint FILE": [str(bin_dir / "ippool-validator"), "lint", str(pool)],
    }


def check(name: str, argv: list[str], cwd: Path) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{name} failed ({done.returncode}): {done.stdout}{done.stderr}")
    if name.startswith("ippool-validator") and not done.stdout.startswith("0 errors, 0 warnings in 1 file"):
        sys.exit(f"{name} printed something unexpected: {done.stdout!r}")


def time_rounds(cmds: dict[str, list[str]], rounds: int, cwd: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(rounds):
        for name, argv in cmds.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times[name].append(time.perf_counter() - start)
    return times


def table(times: dict[str, list[float]]) -> str:
    base = statistics.median(times["yamllint FILE"])
    rows = ["| command | median (ms) | fastest (ms) | p90 (ms) | median / yamllint |",
            "|---|---:|---:|---:|---:|"]
    for name, values in times.items():
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        median = statistics.median(values)
        rows.append(f"| `{name}` | {median * 1000:.1f} | {ordered[0] * 1000:.1f} | {p90 * 1000:.1f} | "
                    f"{median / base:.2f}x |")
    return "\n".join(rows)


def importtime(bin_dir: Path, pool: Path, top: int = 25) -> str:
    code = ("import sys; from validator.cli import main; "
            "sys.argv = ['ippool-validator', 'lint', sys.argv[1]]; main()")
    done = subprocess.run([str(bin_dir / "python"), "-X", "importtime", "-c", code, str(pool)],
                          cwd=pool.parent, capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return "\n".join(f"{us / 1000:8.1f} ms cumulative  {name}" for us, name in rows[:top])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--venv", type=Path,
                        default=Path(tempfile.gettempdir()) / "ippool-validator-bench-venv")
    parser.add_argument("--rebuild", action="store_true", help="Make the virtualenv anew.")
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--source", type=Path, default=REPO,
                        help="Install the project from this folder instead (another branch's tree).")
    args = parser.parse_args()
    bin_dir = build_venv(args.venv, args.rebuild, args.source)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pool = work / "pool.yaml"
        pool.write_text(POOL, encoding="utf-8")
        cmds = commands(bin_dir, pool)
        for name, argv in cmds.items():
            check(name, argv, work)
        print(f"{args.rounds} rounds; Python {sys.version.split()[0]}; "
              f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}")
        print(table(time_rounds(cmds, args.rounds, work)))
        if args.importtime:
            print("\nslowest imports of one lint run:\n" + importtime(bin_dir, pool))


if __name__ == "__main__":
    main()
