"""The results: medians over rounds, the targets judged, the console table and BENCHMARKS.md."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from load import Figures

# The targets.
MIN_RATIO = 0.4
MAX_P99_MS = 50.0
MAX_SINGLE_CLIENT_P50_MS = 4.0
# The minimum: above the ratios to the floor that the public FastAPI implementation of our contract reached in the
# issue's own run (5 workers each, 16 connections).
FASTAPI_PEER_RATIOS = {"retrieve": 0.33, "create": 0.27, "full update": 0.26, "toggle complete": 0.23}
MAX_GROWTH_WITH_DATA = 0.20
# "Flat" memory: no worker grows by more than this over the soak (allocator noise is a few hundred KiB).
MAX_SOAK_GROWTH_KIB = 2048


@dataclass
class Summary:
    """One server in one scenario: the median of each figure over the rounds."""

    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    worker_ms: float
    database_ms: float
    foreign_max: float

    @classmethod
    def of(cls, runs: list[Figures]) -> Summary:
        return cls(
            rps=statistics.median(run.rps for run in runs),
            p50_ms=statistics.median(run.p50_us for run in runs) / 1000,
            p99_ms=statistics.median(run.p99_us for run in runs) / 1000,
            non2xx=sum(run.non2xx for run in runs),
            socket_errors=sum(run.socket_errors for run in runs),
            worker_ms=statistics.median(run.cpu.worker_ms for run in runs),
            database_ms=statistics.median(run.cpu.database_ms for run in runs),
            foreign_max=max(run.cpu.foreign_share for run in runs),
        )


@dataclass
class Results:
    meta: dict[str, str]
    settings: dict[str, str]
    # scenario name → server name ("ours", "floor") → one Figures per round
    runs: dict[str, dict[str, list[Figures]]] = field(default_factory=dict)
    # "100k" / "1M" → server → single-client list runs
    single: dict[str, dict[str, list[Figures]]] = field(default_factory=dict)
    rows_in_table: dict[str, int] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)
    # server → list of (label, {pid: KiB})
    rss: dict[str, list[tuple[str, dict[int, int]]]] = field(default_factory=dict)
    # (seconds since start, {pid: KiB}) for our workers under load
    soak: list[tuple[float, dict[int, int]]] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    errors_logged: int = 0

    def summary(self, scenario: str, server: str) -> Summary:
        return Summary.of(self.runs[scenario][server])

    def single_p50(self, size: str, server: str, *, best: bool = False) -> float | None:
        """The median over rounds, or with ``best`` the lowest: noise only ever adds latency, so the best round
        is the least disturbed one, the fairer figure when comparing runs taken minutes apart."""
        runs = self.single.get(size, {}).get(server)
        if not runs:
            return None
        return (min if best else statistics.median)(run.p50_us for run in runs) / 1000

    def soak_growth_kib(self) -> dict[int, int]:
        if len(self.soak) < 2:
            return {}
        first, last = self.soak[0][1], self.soak[-1][1]
        return {pid: last[pid] - first[pid] for pid in first if pid in last}


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def targets(results: Results) -> list[tuple[str, bool | None, str]]:
    checks = []
    for scenario in results.runs:
        ours, floor = results.summary(scenario, "ours"), results.summary(scenario, "floor")
        ratio = ours.rps / floor.rps
        checks.append((f"{scenario}: ≥ {MIN_RATIO} × floor req/s", ratio >= MIN_RATIO, f"{ratio:.2f}"))
        if scenario in FASTAPI_PEER_RATIOS:
            peer = FASTAPI_PEER_RATIOS[scenario]
            checks.append((f"{scenario}: above the FastAPI peer's {peer} × floor", ratio > peer, f"{ratio:.2f}"))
        checks.append((f"{scenario}: p99 ≤ {MAX_P99_MS:g} ms", ours.p99_ms <= MAX_P99_MS, f"{ours.p99_ms:.1f} ms"))
        clean = ours.non2xx == 0 and ours.socket_errors == 0
        checks.append(
            (f"{scenario}: zero non-2xx", clean, f"{ours.non2xx} non-2xx, {ours.socket_errors} socket errors")
        )
    small = results.single_p50("100k", "ours")
    if small is not None:
        checks.append(
            (
                f"single-client list p50 ≤ {MAX_SINGLE_CLIENT_P50_MS:g} ms",
                small <= MAX_SINGLE_CLIENT_P50_MS,
                f"{small:.2f} ms",
            )
        )
    large = results.single_p50("1M", "ours")
    if small is not None and large is not None:
        # Compared on each size's best round: the two are measured minutes apart, under different neighbours.
        growth = results.single_p50("1M", "ours", best=True) / results.single_p50("100k", "ours", best=True) - 1
        median_growth = large / small - 1
        checks.append(
            (
                f"list p50 at 1M rows within {MAX_GROWTH_WITH_DATA:.0%} of 100k (best rounds)",
                growth <= MAX_GROWTH_WITH_DATA,
                f"{growth:+.1%} (medians: {median_growth:+.1%})",
            )
        )
    growth = results.soak_growth_kib()
    if growth:
        worst = max(growth.values())
        seconds = results.soak[-1][0]
        checks.append(
            (f"worker memory flat over {seconds:.0f} s", worst <= MAX_SOAK_GROWTH_KIB, f"max growth {worst} KiB")
        )
    else:
        checks.append(("worker memory flat over a 5-minute run", None, "not run (use --soak 300)"))
    return checks


def table(results: Results) -> list[str]:
    lines = [
        "| scenario | ours req/s | floor req/s | ratio | ours p50 | ours p99 | floor p50 | floor p99 "
        "| non-2xx ours/floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in results.runs:
        ours, floor = results.summary(scenario, "ours"), results.summary(scenario, "floor")
        lines.append(
            f"| {scenario} | {ours.rps:.0f} | {floor.rps:.0f} | {ours.rps / floor.rps:.2f} | {ours.p50_ms:.1f} ms "
            f"| {ours.p99_ms:.1f} ms | {floor.p50_ms:.1f} ms | {floor.p99_ms:.1f} ms "
            f"| {ours.non2xx + ours.socket_errors}/{floor.non2xx + floor.socket_errors} |"
        )
    return lines


def cpu_table(results: Results) -> list[str]:
    lines = [
        "| scenario | ours: workers + PostgreSQL | floor: workers + PostgreSQL | worker CPU ours/floor "
        "| other load (max) |",
        "|---|---:|---:|---:|---:|",
    ]
    for scenario in results.runs:
        ours, floor = results.summary(scenario, "ours"), results.summary(scenario, "floor")
        lines.append(
            f"| {scenario} | {ours.worker_ms:.2f} + {ours.database_ms:.2f} ms | {floor.worker_ms:.2f} + "
            f"{floor.database_ms:.2f} ms | {ours.worker_ms / max(floor.worker_ms, 0.01):.1f}× "
            f"| {max(ours.foreign_max, floor.foreign_max):.0%} |"
        )
    return lines


def noise(results: Results) -> float:
    """The largest share of the machine that processes outside the benchmark took during a measured run."""
    runs = [
        run for servers in (*results.runs.values(), *results.single.values()) for ss in servers.values() for run in ss
    ]
    return max((run.cpu.foreign_share for run in runs if run.cpu), default=0.0)


NOISY = 0.10


def console(results: Results) -> str:
    lines = ["", *table(results), "", *cpu_table(results), ""]
    for size in ("100k", "1M"):
        ours, floor = results.single_p50(size, "ours"), results.single_p50(size, "floor")
        if ours is not None:
            rows = results.rows_in_table.get(size, 0)
            best = results.single_p50(size, "ours", best=True)
            lines.append(
                f"single-client list p50, {rows:,} rows: ours {ours:.2f} ms (best {best:.2f}), floor {floor:.2f} ms"
            )
    lines.append("")
    lines += [f"{_mark(ok):4}  {name}  ({value})" for name, ok, value in targets(results)]
    if noise(results) > NOISY:
        lines += [
            "",
            f"NOISE: processes outside the benchmark used up to {noise(results):.0%} of the machine in a run.",
        ]
    if results.differences:
        lines += ["", f"FAIRNESS: {len(results.differences)} answers differ from the floor's:", *results.differences]
    return "\n".join(lines)


def _rss_lines(results: Results) -> list[str]:
    lines = []
    for server, samples in results.rss.items():
        lines.append(f"**{server}** ({len(samples[0][1])} workers), VmRSS in MiB per worker:")
        lines.append("")
        lines.append("| when | " + " | ".join(f"worker {i + 1}" for i in range(len(samples[0][1]))) + " |")
        lines.append("|---|" + "---:|" * len(samples[0][1]))
        for label, sizes in samples:
            lines.append(f"| {label} | " + " | ".join(f"{kib / 1024:.1f}" for _, kib in sorted(sizes.items())) + " |")
        lines.append("")
    return lines


def _soak_lines(results: Results) -> list[str]:
    if not results.soak:
        return ["Not run in this run: `bench/run.py --soak 300` runs it (five minutes of the list under load)."]
    pids = sorted(results.soak[0][1])
    lines = [
        f"Our workers under the list load at {results.settings['connections']} connections, sampled every 10 s "
        f"(VmRSS, MiB; every third sample shown). Flat means no worker grows by more than {MAX_SOAK_GROWTH_KIB} KiB.",
        "",
        "| t (s) | " + " | ".join(f"worker {i + 1}" for i in range(len(pids))) + " |",
        "|---:|" + "---:|" * len(pids),
    ]
    for index, (seconds, sizes) in enumerate(results.soak):
        if index % 3 and index != len(results.soak) - 1:
            continue  # every 30 s is enough to read; the growth below uses every sample
        lines.append(f"| {seconds:.0f} | " + " | ".join(f"{sizes.get(pid, 0) / 1024:.1f}" for pid in pids) + " |")
    growth = results.soak_growth_kib()
    lines += ["", "Growth from first to last sample: " + ", ".join(f"{kib:+d} KiB" for kib in growth.values()) + "."]
    return lines


def markdown(results: Results, notes: str) -> str:
    meta, settings = results.meta, results.settings
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`); edit `bench/NOTES.md` for the notes at the end, not this file.",
        "",
        f"- **Date**: {meta['date']}",
        f"- **Code**: {meta['git']}",
        f"- **Machine**: {meta['cpu']}, {meta['cores']} cores, {meta['memory']} memory, {meta['kernel']}",
        f"- **Versions**: {meta['versions']}",
        f"- **Command**: `{meta['command']}`; took {meta['elapsed']}",
        "",
        "## Setup",
        "",
        "- Both servers: the production stack, `deploy/serve.py`: nginx (`deploy/nginx.conf`, on loopback) "
        f"in front of `gunicorn -c gunicorn.conf.py` (sync workers, `WEB_CONCURRENCY={settings['workers']}` each, "
        "on a unix socket), our API with `DJANGO_DEBUG=0`, fresh secrets, PostgreSQL on 127.0.0.1, Redis on 127.0.0.1 "
        "(`REDIS_URL`, for the throttle counts, as deployed) and its JSON request log at the default `INFO` level, "
        "written to a file.",
        f"- `API_THROTTLE_RATE={settings['throttle_rate']}`: high enough never to refuse a request, but with a "
        "one-second window, because DRF's throttle keeps one timestamp per request in the window and reads and "
        "writes the whole list on every request: with a per-hour window it would grow to every request of the run, "
        "which deployment (1000/hour, so at most 1000 entries) never sees. A one-second window holds about as many "
        "as one second of load: a realistic size, and still paid on every request.",
        f"- Data: a fresh database `{settings['database']}`, migrated by our `manage.py`; the benchmark user owns "
        f"{settings['bench_tasks']} live tasks, scattered through the table among {settings['other_tasks']} tasks of "
        f"{settings['other_users']} other users (~30% completed, ~40% with a due date, ~2% soft-deleted, half "
        "tagged when the model has tags); `VACUUM ANALYZE` after seeding and after every write scenario, which is "
        "undone so that every run starts from the same rows.",
        f"- Load: `wrk -t{settings['threads']} -c{settings['connections']}`, {settings['warmup']} s warm-up then "
        f"{settings['duration']} s per scenario and server; {settings['rounds']} round(s), ours and the floor "
        "alternating (which goes first swaps every round), figures are medians over rounds. Single-client: "
        "`wrk -t1 -c1`, same durations. The load generator runs on the same 2 cores.",
        "- The floor (`bench/floor.py`) is a bare WSGI app behind the same stack and gunicorn settings: PyJWT HS256 "
        "verification with the same checks, one persistent psycopg connection per worker (autocommit, server-side "
        "prepared statements), the same statements' work (count + page for lists, one `INSERT`/`UPDATE … RETURNING` "
        "per write) and orjson, producing the same bytes. It skips what the API adds: Django and DRF, middleware, the "
        "throttle's Redis round trip, the request log and the transaction around each write.",
        "",
        "## Results",
        "",
        *table(results),
        "",
        "CPU per request, from /proc (median over rounds), and the share of the machine used by processes outside "
        "the benchmark during the runs (another test suite, a build): a busy neighbour lowers both servers' figures. "
        "The PostgreSQL figure can be low for ours: Django reopens its connections every `DATABASE_CONN_MAX_AGE` "
        "(60 s), and a backend that exits during a run takes its CPU time with it.",
        "",
        *cpu_table(results),
        "",
        *(
            [
                f"**Noisy run**: outside processes took up to {noise(results):.0%} of the machine during a measured "
                "run; the ratios are the fairer figures, since both servers alternate under the same neighbours.",
                "",
            ]
            if noise(results) > NOISY
            else []
        ),
        "Single-client list (`wrk -t1 -c1`), p50: the median over rounds, and the best round (the least disturbed "
        "by neighbours, which only ever add latency), with the most outside load seen in that size's rounds.",
        "",
        "| rows in the table | ours: median | ours: best | floor: median | floor: best | other load (max) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in ("100k", "1M"):
        if results.single_p50(size, "ours") is not None:
            figures = [results.single_p50(size, server, best=best) for server in ("ours", "floor") for best in (0, 1)]
            load = max(run.cpu.foreign_share for runs in results.single[size].values() for run in runs)
            lines.append(
                f"| {results.rows_in_table[size]:,} | "
                + " | ".join(f"{ms:.2f} ms" for ms in figures)
                + f" | {load:.0%} |"
            )
    lines += ["", "## Targets", "", "| target | result | measured |", "|---|---|---|"]
    lines += [f"| {name} | {_mark(ok)} | {value} |" for name, ok, value in targets(results)]
    lines += ["", "## Fairness check", ""]
    if results.differences:
        lines += [
            f"{len(results.differences)} answers differed from the floor's (the comparison is unfair until fixed):",
            "",
        ]
        lines += ["```", *results.differences, "```"]
    else:
        lines.append(
            "Before the load, every scenario and four errors (no token, a bad token, another user's URL, an unknown "
            "task) were requested once from each server: status, content type, ETag, Location and body were the "
            "same bytes, apart from the port in links and a write's new id and timestamps."
        )
    lines.append("")
    lines.append(f"Lines logged at ERROR by our server during the run: {results.errors_logged}.")
    lines += ["", "## Query plans", ""]
    for label, plan in results.plans.items():
        lines += [f"{label}:", "", "```", plan, "```", ""]
    if not results.plans:
        lines += ["Not run (`--skip-million`).", ""]
    lines += ["## Worker memory", "", *_rss_lines(results), "### Soak", "", *_soak_lines(results), ""]
    if notes:
        lines += ["## What is left, and why", "", notes.strip(), ""]
    return "\n".join(lines)


def write(results: Results, path: Path, notes_path: Path) -> None:
    notes = notes_path.read_text() if notes_path.is_file() else ""
    path.write_text(markdown(results, notes))
