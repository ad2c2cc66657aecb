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
