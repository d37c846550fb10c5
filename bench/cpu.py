"""CPU accounting from /proc: what one measured run cost each side, and how busy the rest of the machine was.

A shared machine is noisy: other processes (a test suite, a build) take cores from the run. Each run
records the CPU the server (nginx, gunicorn and their workers) and the benchmark database's backends used
per request, and the share of the machine used by everything outside the benchmark, so a noisy figure
shows as noisy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass
class Snapshot:
    # pid → (parent pid, command line, CPU ticks used so far)
    processes: dict[int, tuple[int, str, int]]
    # ticks used by this process's children that have ended (wrk, once it exits)
    reaped: int
    # ticks all cores spent busy, and in total, since boot
    busy: int
    total: int


@dataclass
class Usage:
    worker_ms: float  # CPU of the server (nginx, gunicorn and their workers), per request
    database_ms: float  # CPU of the benchmark database's backends, per request
    foreign_share: float  # share of all cores used by processes outside the benchmark


def snapshot() -> Snapshot:
    processes = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        # Fields restart after the command name, which may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        processes[int(entry)] = (int(fields[1]), command, int(fields[11]) + int(fields[12]))
    times = os.times()
    reaped = round((times.children_user + times.children_system) * TICKS_PER_SECOND)
    cpu = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = cpu[3] + cpu[4]  # idle and iowait
    return Snapshot(processes, reaped, busy=sum(cpu) - idle, total=sum(cpu))


def usage(before: Snapshot, after: Snapshot, *, master: int, idle_master: int, database: str, requests: int) -> Usage:
    """What a run between two snapshots cost: ``master`` is the launcher (deploy/serve.py) of the server under
    load, whose nginx and gunicorn, with their workers, are its server's cost; ``idle_master`` the other's."""
    server = _tree(after, master)
    own = _tree(after, idle_master) | {os.getpid()}
    workers = database_ticks = benchmark = 0
    for pid, (parent, command, ticks) in after.processes.items():
        spent = ticks - before.processes.get(pid, (0, "", 0))[2]
        if pid in server:
            workers += spent
        elif command.startswith("postgres: ") and f" {database} " in command:
            database_ticks += spent
        elif pid in own or parent in own or command.startswith("redis-server"):
            # This script, the other server (idle) and Redis: the benchmark's own, not foreign.
            benchmark += spent
    benchmark += after.reaped - before.reaped
    foreign = max(0, after.busy - before.busy - workers - database_ticks - benchmark)
    per_request = 1000 / TICKS_PER_SECOND / max(requests, 1)
    return Usage(
        worker_ms=workers * per_request,
        database_ms=database_ticks * per_request,
        foreign_share=foreign / max(after.total - before.total, 1),
    )


def _tree(snapshot: Snapshot, root: int) -> set[int]:
    """``root`` and every process under it."""
    tree = {root}
    while grown := {pid for pid, (parent, _, _) in snapshot.processes.items() if parent in tree} - tree:
        tree |= grown
    return tree
