"""The `yaml-invalid` rule: files that cannot be read as YAML.

The sources emit its findings while reading; the rule itself checks nothing.
"""

from __future__ import annotations

from .base import input_rule

yaml_invalid = input_rule(
    "yaml-invalid", "error", "A file that cannot be read as YAML (located parse or read error)", """
    ## What it does
    Reports files that cannot be linted: unreadable, binary, not UTF-8, larger than `--max-file-size`,
    broken YAML (with the line of the error), YAML aliases that expand into millions of nodes, and folder
    links that lead back into themselves. The other files are still linted.

    ## Why is this bad?
    `kubectl apply` and GitOps controllers fail on the same file, and what it defines is missing from
    every other check.

    ## Example
    ```yaml
    spec:
      cidr: 10.0.0.0/16
     nodeSelector: all()
    ```

    ## Use instead
    Valid, consistently indented YAML in UTF-8.
    """, calico="kube-apiserver and calicoctl refuse to parse it")
