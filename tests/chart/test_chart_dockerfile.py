"""The image the chart points at: slim Python base, numeric non-root user matching the chart, the package
installed from the repository, nothing to build with in the final stage."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml
from chart_render import CHART_DIR, REPO_ROOT, Manifest, find

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            if current.strip():
                logical.append(current.strip())
            current = ""
    return [Instruction(*(re.split(r"\s+", entry, maxsplit=1) + [""])[:2]) for entry in logical]


def stages(text: str) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions(text):
        if instruction.keyword.upper() == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


DOCKERFILE_STAGES = stages(DOCKERFILE.read_text())
FINAL = DOCKERFILE_STAGES[-1]


def final(keyword: str) -> list[str]:
    return [i.arguments for i in FINAL if i.keyword.upper() == keyword]


def test_multi_stage_build_on_slim_python_3_11() -> None:
    assert len(DOCKERFILE_STAGES) == 2
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert base and base[1] == "python:3.11-slim-bookworm"
    assert [stage[0].arguments for stage in DOCKERFILE_STAGES] == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE}",
    ]


def test_package_is_installed_from_the_repository_in_the_build_stage() -> None:
    build_runs = " ".join(i.arguments for i in DOCKERFILE_STAGES[0] if i.keyword.upper() == "RUN")
    assert "/opt/venv/bin/pip install '.[webhook]'" in build_runs  # the image serves: the webhook extra
    assert "/opt/venv/bin/ippool-validator --help" in build_runs
    assert final("COPY") == ["--from=build /opt/venv /opt/venv"]


def test_final_stage_has_no_build_tools() -> None:
    runs = " ".join(final("RUN"))
    assert not re.search(r"\b(apt-get|apt|apk|gcc|make|build-essential)\b", runs)
    assert not re.search(r"pip install", runs)
    assert "pip uninstall --yes" in runs and "setuptools" in runs
    assert "pip uninstall --yes pip setuptools wheel" in " ".join(
        i.arguments for i in DOCKERFILE_STAGES[0] if i.keyword.upper() == "RUN"
    )


def test_runs_as_the_numeric_user_the_chart_expects(default_objects: list[Manifest]) -> None:
    assert final("USER") == ["10001:10001"]
    pod = find(default_objects, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (10001, 10001)
    assert "--uid 10001 --gid 10001" in " ".join(final("RUN"))


def test_entrypoint_and_port_match_the_chart(default_objects: list[Manifest]) -> None:
    assert [json.loads(e) for e in final("ENTRYPOINT")] == [["ippool-validator"]]
    container = find(default_objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["ippool-validator"]
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert final("EXPOSE") == [str(values["port"])]


def test_build_context_is_an_allow_list() -> None:
    lines = [line for line in DOCKERIGNORE.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "LICENSE*", "validator/"}
    assert "**/__pycache__" in lines
