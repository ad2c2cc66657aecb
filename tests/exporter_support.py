"""The exporter run as users run it: the real `ippool-validator exporter` subprocess on 127.0.0.1 (port 0,
the one it prints), scraped over HTTP; over a cluster served by tests/kubefake.py with the IPAM CRDs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import ipam_support as s
import kubefake as kf
from prometheus_client.parser import text_string_to_metric_families

CLUSTER = (kf.NODES, kf.PODS, *kf.CALICO_CRDS, *kf.CALICO_IPAM_CRDS)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def plant(fake: kf.FakeKube) -> None:
    for items in s.planted(datetime.now(timezone.utc)).values():
        fake.add_all(items)


def command() -> list[str]:
    script = Path(sys.executable).parent / "ippool-validator"
    return [str(script)] if script.exists() else [sys.executable, "-m", "validator.cli"]


class Running:
    def __init__(self, kubeconfig: Path, interval: str = "1") -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [*command(), "exporter", "--host", "127.0.0.1", "--port", "0", "--interval", interval,
             "--kubeconfig", str(kubeconfig)], stderr=subprocess.PIPE, text=True, env=env)
        assert self.process.stderr is not None
        line = self.process.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert found, line
        self.url = f"http://127.0.0.1:{found.group(1)}"

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def samples(self) -> Samples:
        status, text = self.get("/metrics")
        assert status == 200
        return {(x.name, tuple(sorted(x.labels.items()))): x.value
                for family in text_string_to_metric_families(text) for x in family.samples}

    def wait(self, predicate, timeout: float = 15.0) -> Samples:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            found = self.samples()
            if predicate(found) or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err


def ready(running: Running, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while running.get("/readyz")[0] != 200:
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.05)
