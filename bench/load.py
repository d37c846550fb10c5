"""Load from wrk: one scenario against one server, its figures read from wrk.lua's done()."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cpu import Usage

SCRIPT = Path(__file__).resolve().parent / "wrk.lua"


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    body: str = ""
    # The ids "{id}" in the path rotates through; empty when the path is fixed.
    ids: tuple[int, ...] = ()
    # Writes change the benchmark user's tasks, which are restored after each run.
    writes: bool = False

    @property
    def first_path(self) -> str:
        return self.path.replace("{id}", str(self.ids[0])) if self.ids else self.path


@dataclass
class Figures:
    requests: int
    duration_us: int
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float
    max_us: int
    non2xx: int
    socket_errors: int
    # Set by the caller, from /proc, when it accounts the run's CPU.
    cpu: Usage | None = None

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6)


def ensure_wrk() -> str:
    """wrk from Debian's package, installed when missing (the benchmark runs as root, like CI)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing Debian's package.", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


def wrk_version() -> str:
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (result.stdout or result.stderr).splitlines()[0].split(" [")[0]


def run(
    scenario: Scenario, url: str, token: str, *, seconds: float, connections: int, threads: int
) -> subprocess.Popen:
    """Start wrk; ``finish()`` waits for it and returns its figures (so callers may sample meanwhile)."""
    env = {
        **os.environ,
        "BENCH_METHOD": scenario.method,
        "BENCH_PATH": scenario.path,
        "BENCH_IDS": " ".join(map(str, scenario.ids)),
        "BENCH_BODY": scenario.body,
        "BENCH_TOKEN": token,
    }
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(SCRIPT), url]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> Figures:
    output, _ = process.communicate()
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            return Figures(**json.loads(line.removeprefix("BENCH_JSON ")))
    raise RuntimeError(f"wrk printed no figures:\n{output}")


def measure(scenario: Scenario, url: str, token: str, *, seconds: float, connections: int, threads: int) -> Figures:
    return finish(run(scenario, url, token, seconds=seconds, connections=connections, threads=threads))
