"""The package as users get it: a wheel built from exactly the files the Docker context admits, installed in
fresh virtual environments (no system site-packages), once with the core only and once with the webhook extra.

The wheel is what the image would install, so a file the package needs but `.dockerignore` leaves out (the
JSON schemas once were) fails here. Installing needs the package index or pip's cache (for the dependencies);
the webhook is a real `serve` over TLS on 127.0.0.1, judging real AdmissionReview v1 requests. Slow-ish (two
venvs installed side by side, some 30 s): it runs in the default suite and CI; `-m 'not slow'` leaves it out
while iterating.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.webhook_support import STATE, Server, free_port, pool, review, stop, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CORE = {"click", "pyyaml", "jsonschema", "pathspec"}
WEBHOOK = {"flask", "gunicorn", "prometheus-client", "kubernetes", "cryptography"}
WEBHOOK_MODULES = ("flask", "gunicorn", "prometheus_client", "kubernetes", "cryptography")
PIP_HINT = "pip install 'ippool-validator[webhook]'"
TIMEOUT = 600


# --- .dockerignore, as Docker reads it (enough of it for an allow-list) -----------------------------------

def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression over a relative path."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        elif text[i] == "[" and "]" in text[i + 2:]:
            end = text.index("]", i + 2)
            members = text[i + 1:end]
            out, i = out + "[" + ("^" + members[1:] if members[0] in "^!" else members) + "]", end + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(out)


def docker_rules(text: str) -> list[tuple[bool, re.Pattern[str], str]]:
    """(re-included?, pattern, literal prefix) per line; the last rule that matches a path decides."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        body = os.path.normpath(line.removeprefix("!").strip().strip("/"))
        rules.append((negated, _pattern(body), re.split(r"[*?\[]", body, maxsplit=1)[0]))
    return rules


def excluded(path: str, rules: list[tuple[bool, re.Pattern[str], str]]) -> bool:
    """A pattern that matches a folder matches everything in it, as in Docker."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for negated, pattern, _ in rules:
        if any(pattern.fullmatch(p) for p in prefixes):
            verdict = not negated
    return verdict


def docker_context(root: Path) -> list[str]:
    """The files `docker build` would send from `root`, relative paths, sorted."""
    rules = docker_rules((root / ".dockerignore").read_text())
    admitted = []
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        base = "" if rel == "." else rel + "/"
        # Skip a folder that is excluded and that no re-inclusion reaches into (.git, .venv, ...).
        dirs[:] = [d for d in dirs if not (excluded(base + d, rules) and not any(
            negated and (prefix.startswith(base + d + "/") or prefix == base + d)
            for negated, _, prefix in rules))]
        admitted += [base + f for f in files if not excluded(base + f, rules)]
    return sorted(admitted)


def test_the_dockerignore_reader_follows_dockers_rules() -> None:
    rules = docker_rules("*\n!pyproject.toml\n!validator/\n**/__pycache__\n**/*.py[cod]\n!keep/**/x.txt\n")
    assert not excluded("pyproject.toml", rules) and excluded("setup.cfg", rules)
    assert not excluded("validator/schemas/ippool.schema.json", rules)
    assert excluded("validator/__pycache__/cli.cpython-311.pyc", rules)
    assert excluded("validator/rules/x.pyc", rules) and excluded(".git/config", rules)
    assert not excluded("keep/a/b/x.txt", rules) and excluded("keep/a/b/y.txt", rules)


# --- the wheel and its venvs ---------------------------------------------------------------------------

def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)  # type: ignore
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_NO_INDEX", "PIP_NO_BUILD_ISOLATION", "PYTHONPATH", "VIRTUAL_ENV"))}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` on a copy of exactly the files the Docker context admits."""
    work = tmp_path_factory.mktemp("wheel")
    context = work / "context"
    for name in docker_context(ROOT):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, context / name)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(context)],
         env=_pip_env())
    [built] = (work / "dist").glob("ippool_validator-*.whl")
    return built


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> dict[str, Path]:
    """Two fresh venvs, without pip and without system site-packages, installed at the same time by this
    interpreter's pip: the core only, and the webhook extra. Their bin folders, by name."""
    installs = {}
    for name, extra in (("core", ""), ("webhook", "[webhook]")):
        where = tmp_path_factory.mktemp(f"venv-{name}")
        _run([sys.executable, "-m", "venv", "--without-pip", str(where)])
        args = [sys.executable, "-m", "pip", "--python", str(where / "bin" / "python"), "install", "-q",
                f"{wheel}{extra}"]
        installs[name] = (where / "bin", args, subprocess.Popen(
            args, env=_pip_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for _, args, process in installs.values():
        output, _ = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, f"{' '.join(args)} exited {process.returncode}:\n{output}"
    return {name: bin_dir for name, (bin_dir, _, _) in installs.items()}


@pytest.fixture(scope="module")
def core(venvs: dict[str, Path]) -> Path:
    return venvs["core"]


@pytest.fixture(scope="module")
def webhook(venvs: dict[str, Path]) -> Path:
    return venvs["webhook"]


def installed(bin_dir: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, from a folder outside the repository, with no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / "ippool-validator"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**env, "PYTHONNOUSERSITE": "1"})


def _readme_example_output() -> str:
    section = README.split("## What it finds", 1)[1].split("\n## ", 1)[0]
    shown = re.search(r"```text\n(.*?)```", section, re.S)
    assert shown is not None
    return shown.group(1)


def _lint_examples(bin_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    done = installed(bin_dir, ["lint", "examples/"], tmp_path)
    assert done.returncode == 1, done.stderr  # the example is broken on purpose
    assert done.stdout == _readme_example_output() and done.stderr == ""


def test_the_wheel_carries_every_module_and_the_schemas(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "validator").rglob("*")
               if p.suffix in (".py", ".json") and "__pycache__" not in p.parts}
    assert {"validator/schemas/ippool.schema.json", "validator/schemas/config.schema.json"} <= sources
    assert sources - names == set()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(s for s in sources if s.endswith(".json")):
            assert archive.read(name) == (ROOT / name).read_bytes(), name


def test_the_core_install_is_only_what_lint_needs(core: Path) -> None:
    probe = ("import importlib.metadata as m, importlib.util as u, json, re\n"
             "reqs = m.requires('ippool-validator')\n"
             "name = lambda r: re.split(r'[ <>=!;\\[]', r, maxsplit=1)[0].lower()\n"
             "print(json.dumps({'core': sorted(name(r) for r in reqs if 'extra ==' not in r),\n"
             "  'webhook': sorted(name(r) for r in reqs if 'extra == \"webhook\"' in r),\n"
             f"  'importable': [n for n in {WEBHOOK_MODULES!r} if u.find_spec(n)]}}))\n")
    import json
    found = json.loads(_run([str(core / "python"), "-I", "-c", probe]).stdout)
    assert found == {"core": sorted(CORE), "webhook": sorted(WEBHOOK), "importable": []}


def test_every_module_outside_the_front_ends_imports_with_the_core_only(core: Path) -> None:
    """Only `validator.webhook`, `validator.certs` and `validator.exporter` may need the extra at import time
    (cli imports them inside the commands); everything else, `sources.kube` included, imports with the core
    alone."""
    probe = ("import importlib, pkgutil, validator\n"
             "names = [m.name for m in pkgutil.walk_packages(validator.__path__, 'validator.')\n"
             "         if not m.name.startswith(\n"
             "             ('validator.webhook', 'validator.certs', 'validator.exporter'))]\n"
             "for name in names:\n"
             "    importlib.import_module(name)\n"
             "print(len(names))\n")
    assert int(_run([str(core / "python"), "-I", "-c", probe], cwd=core).stdout) > 20


def test_lint_audit_and_rules_work_with_the_core_only(core: Path, tmp_path: Path) -> None:
    _lint_examples(core, tmp_path)
    listed = installed(core, ["rules"], tmp_path)
    assert listed.returncode == 0 and "pool-overlap" in listed.stdout and "schema-invalid" in listed.stdout
    audited = installed(core, ["audit", "examples/ipam"], tmp_path)
    source = subprocess.run([sys.executable, "-m", "validator.cli", "audit", "examples/ipam"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert (audited.returncode, audited.stdout) == (source.returncode, source.stdout), audited.stderr
    assert audited.returncode in (0, 1) and "POOL" in audited.stdout and audited.stderr == ""


@pytest.mark.parametrize("args", [
    pytest.param(["serve", "--tls-cert", "tls.crt", "--tls-key", "tls.key", "--state", "state"], id="serve"),
    pytest.param(["certs", "--service", "webhook", "--namespace", "ns", "--out", "out"], id="certs"),
    pytest.param(["lint", "--kubeconfig", "kubeconfig", "."], id="lint-kubeconfig"),
    pytest.param(["audit", "--kubeconfig", "kubeconfig"], id="audit-kubeconfig"),
    pytest.param(["exporter", "--kubeconfig", "kubeconfig"], id="exporter"),
])
def test_a_command_that_needs_the_webhook_extra_says_how_to_add_it(core: Path, tmp_path: Path,
                                                                    args: list[str]) -> None:
    done = installed(core, args, tmp_path)
    assert done.returncode == 2 and done.stdout == "", (done.stdout, done.stderr)
    assert PIP_HINT in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written (certs --out)
    assert installed(core, [args[0], "--help"], tmp_path).returncode == 0


@contextmanager
def serving(bin_dir: Path, tmp_path: Path) -> Iterator[Server]:
    """The installed `certs` and `serve --state DIR` over TLS on 127.0.0.1 (an ephemeral port)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    certs = tmp_path / "certs"
    made = installed(bin_dir, ["certs", "--service", "ippool-validator", "--namespace", "test", "--out",
                               str(certs), "--ip", "127.0.0.1"], tmp_path)
    assert made.returncode == 0, made.stderr
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(bin_dir / "ippool-validator"), "serve", "--tls-cert", str(certs / "tls.crt"), "--tls-key",
             str(certs / "tls.key"), "--host", "127.0.0.1", "--port", str(port), "--state", str(STATE)],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    server = Server(port, certs / "ca.crt", process, log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{server.logs()}")
        try:
            return server.request("GET", "/readyz")[0] == 200
        except OSError:
            return False

    try:
        wait_until(ready, 60, lambda: f"serve did not become ready:\n{server.logs()}")
        yield server
    finally:
        stop(process)


def test_the_webhook_install_lints_and_judges_real_admission_reviews(webhook: Path, tmp_path: Path) -> None:
    """An allowed pool (so missing schemas cannot deny everything), an overlap, and an unknown field, which
    only the JSON schema in the wheel catches."""
    _lint_examples(webhook, tmp_path / "lint")
    with serving(webhook, tmp_path / "serve") as server:
        good = server.review(review("CREATE", pool("rack-1-more", "10.30.0.0/24", 'rack == "1"')))
        assert good["allowed"] is True and "warnings" not in good
        overlap = server.review(review("CREATE", pool("rack-1-bis", "10.10.1.128/25", 'rack == "1"')))
        assert overlap["allowed"] is False and "[pool-overlap]" in overlap["status"]["message"]
        typo = server.review(review("CREATE", pool("typo", "10.31.0.0/24", ipipmode="Always")))
        assert typo["allowed"] is False and "[schema-invalid]" in typo["status"]["message"]
        assert "ipipmode" in typo["status"]["message"]
