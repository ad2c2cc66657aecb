"""Which files a lint reads: exclusions (gitignore-style), Helm chart templates, and YAML that is not ours.

A manifest repository holds much YAML that is not Calico's: Helm templates (`{{ }}` is not YAML until helm
renders it), CI workflows, mkdocs, CloudFormation. Failing on those made the pre-commit hook unusable, and
pre-commit's own `exclude:` cannot help, because the hook lints the repository rather than the files it is
given. So exclusions are ours to apply, and a file that cannot be parsed is judged by whether it looks like
one of ours: if it does, its syntax error is a finding; if not, it is reported as skipped (kube-linter also
only warns about such files unless asked).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

HELM_TEMPLATE_REASON = ("Helm chart template (a templates/ folder beside Chart.yaml): not YAML until helm "
                        "renders it; lint the output of `helm template` instead")
_OUR_API = r"(?:projectcalico\.org/v3|crd\.projectcalico\.org/v1|operator\.tigera\.io/v1)"
_OUR_KIND = (r"(?:IPPool|IPPoolList|IPReservation|IPReservationList|IPAMConfiguration|IPAMConfig"
             r"|IPAMConfigurationList|IPAMConfigList|Installation|Node|NodeList)")
_LOOKS_OURS = (rf"""(?:apiVersion["']?\s*:\s*["']?{_OUR_API}"""
               rf"""|kind["']?\s*:\s*["']?{_OUR_KIND}(?=["'\s,}}\]]|$))""")


def looks_like_ours(text: str) -> bool:
    """Whether text that does not parse still shows a Calico, operator or Node `apiVersion`/`kind`.
    (The pattern is compiled, and cached by `re`, when a file fails to parse: not at every start.)"""
    return re.search(_LOOKS_OURS, text, re.MULTILINE) is not None


def unparsed_reason(problem_line: int, problem_message: str) -> str:
    return (f"does not parse as YAML (line {problem_line}: {problem_message}) and holds nothing that looks "
            "like a Calico or Node object; --strict-parse makes this an error")


@lru_cache(maxsize=4096)
def _chart_templates(folder: str) -> bool:
    """Whether `folder` (absolute) is a chart's templates/ folder or lies below one."""
    while True:
        parent = os.path.dirname(folder)
        if os.path.basename(folder) == "templates" and os.path.isfile(os.path.join(parent, "Chart.yaml")):
            return True
        if parent == folder:
            return False
        folder = parent


def is_helm_template(path: str) -> bool:
    return _chart_templates(os.path.dirname(os.path.abspath(path)))


class ExcludeError(ValueError):
    """A pattern that pathspec cannot read."""


class Excluder:
    """gitignore-style patterns, each set relative to its own folder: those given on the command line to the
    current folder, those of a policy file to the policy file's folder (as .gitignore files work).

    A matched folder is not walked at all; as in git, nothing below an excluded folder can be re-included.
    """

    def __init__(self) -> None:
        self.specs: list[tuple[str, Any]] = []  # (absolute folder, pathspec.PathSpec)

    def add(self, patterns: Iterable[str], base: str = ".") -> None:
        lines = [p for p in patterns if p.strip()]
        if not lines:
            return
        import pathspec  # only when there is something to exclude: lint's start-up stays lean

        try:
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
        except (ValueError, TypeError) as err:
            raise ExcludeError(str(err)) from None
        self.specs.append((os.path.abspath(base), spec))

    def __bool__(self) -> bool:
        return bool(self.specs)

    def excludes(self, path: str, is_dir: bool = False) -> bool:
        absolute = os.path.abspath(path)
        for base, spec in self.specs:
            relative = os.path.relpath(absolute, base)
            if relative == "." or relative.startswith(".." + os.sep) or relative == "..":
                continue
            relative = relative.replace(os.sep, "/")
            if spec.match_file(relative + "/" if is_dir else relative):
                return True
        return False


__all__ = ["Excluder", "ExcludeError", "HELM_TEMPLATE_REASON", "is_helm_template", "looks_like_ours",
           "unparsed_reason"]
