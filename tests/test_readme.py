"""The README tells the truth: its example output is what `lint examples/` prints today, and its first
lines are the two set-up commands that `.ci/run` relies on."""

from __future__ import annotations

import os
import re
from pathlib import Path

from click.testing import CliRunner

from validator.cli import main

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_readme_opens_with_the_two_set_up_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README.split("## ", 1)[0], re.S)
    assert blocks == ["pip install . && ippool-validator lint examples/",
                      "pip install -e '.[test]' && bash .ci/install-helm && bash .ci/install-promtool"
                      " && python -m pytest -q"]


def test_the_example_output_shown_is_what_lint_prints() -> None:
    section = README.split("## What it finds", 1)[1].split("\n## ", 1)[0]
    shown = re.search(r"```text\n(.*?)```", section, re.S)
    assert shown is not None
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        result = CliRunner().invoke(main, ["lint", "examples/"], catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 1  # the example is broken on purpose
    assert result.output == shown.group(1)


def ci_lint_commands() -> list[list[str]]:
    """Every `ippool-validator lint` command of the README's CI snippets, as argument lists."""
    import shlex

    import yaml

    section = README.split("## Output formats for CI", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```yaml\n(.*?)```", section, re.S):
        doc = yaml.safe_load(block)
        texts = [step.get("run", "") for job in doc.get("jobs", {}).values() for step in job["steps"]]
        texts += [line for job in doc.values() if isinstance(job, dict) for line in job.get("script", [])]
        for text in texts:
            if "ippool-validator lint" in text:
                assert not re.search(r"[>|&;]", text), f"a shell redirect or pipe in a CI snippet: {text!r}"
                commands.append(shlex.split(text)[1:])
    return commands


def test_the_ci_snippets_write_complete_reports_or_none(tmp_path, monkeypatch) -> None:
    """Run each snippet's lint on a copy of examples/ (nodes where the snippet expects them): the SARIF or
    JUnit file is complete although the lint fails; when the lint cannot run at all, no file exists."""
    import json
    import shutil
    import xml.etree.ElementTree as ET

    commands = ci_lint_commands()
    assert len(commands) == 2
    for number, args in enumerate(commands):
        work = tmp_path / str(number)
        shutil.copytree(REPO / "examples", work)
        monkeypatch.chdir(work)
        outputs = [a.split("=", 1)[1] for a in args if "=" in a and not a.startswith("-")]
        assert outputs, args
        (work / "cluster").mkdir()
        broken = CliRunner().invoke(main, args, env={"GITHUB_STEP_SUMMARY": ""})
        assert broken.exit_code == 2 and not any((work / o).exists() for o in outputs)  # no nodes file yet
        shutil.move(work / "nodes" / "nodes.yaml", work / "cluster" / "nodes.yaml")
        result = CliRunner().invoke(main, args, env={"GITHUB_STEP_SUMMARY": ""})
        assert result.exit_code == 1, result.output
        for name in outputs:
            text = (work / name).read_text()
            if name.endswith(".sarif"):
                assert json.loads(text)["runs"][0]["results"]
            else:
                assert ET.fromstring(text).get("failures") == "6"
