"""``make bench``: our API against the floor (bench/floor.py) under wrk, in the same run; writes BENCHMARKS.md.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379, as ``make test`` does;
installs wrk when missing. ``--quick`` is a smoke run of a minute or so; the full run takes about 12 minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import check
import cpu
import jwt
import load
import redis
import report
import seed
from load import Figures, Scenario
from servers import Server

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "todo_bench"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/13"
# See BENCHMARKS.md, "Setup": never refuses, and DRF's per-request history stays the size of one second of load.
THROTTLE_RATE = "1000000/second"
# A Better Auth-like user id: 32 random characters.
BENCH_USER = "Wm3q8ZtX4kLp9RvB2nYc7HsD5fGjA1eU"
BENCH_TASKS, OTHER_USERS, OTHER_TASKS, MILLION = 1_000, 10_000, 100_000, 1_000_000
BENCHMARKS = ROOT / "BENCHMARKS.md"
NOTES = Path(__file__).resolve().parent / "NOTES.md"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every scenario on both servers (default 3)")
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per scenario (default 10)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of unmeasured load before each (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round, 2 s per scenario, 1 s warm-up")
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers for both servers (default: gunicorn.conf.py's, 2 × cores + 1)"
    )
    parser.add_argument("--skip-million", action="store_true", help="skip growing the table to 1,000,000 rows")
    parser.add_argument(
        "--soak", type=float, default=0, metavar="SECONDS", help="also load the list this long, sampling RSS"
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 2, 1
    return args


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The app's own settings (README, "Environment") are never inherited from the caller's shell: a JWT_ISSUER
# or a DATABASE_URL set there would make the two servers disagree with the token or with each other.
_APP_SETTINGS = ("DJANGO_", "DATABASE_", "REDIS_", "BETTER_AUTH_", "JWT_", "API_", "CORS_", "WEB_", "GUNICORN_", "LOG_")


def server_environment(workers: int) -> dict[str, str]:
    """The deployment's environment, with fresh secrets; the same for our API and the floor."""
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith(_APP_SETTINGS)},
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "BETTER_AUTH_SECRET": secrets.token_urlsafe(48),
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "API_THROTTLE_RATE": THROTTLE_RATE,
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "INFO",
    }


def mint(env: dict[str, str]) -> str:
    now = int(time.time())
    claims = {"sub": BENCH_USER, "iat": now, "exp": now + 6 * 3600}
    return jwt.encode(claims, env["BETTER_AUTH_SECRET"], algorithm="HS256")


def task_body(fields: list[str]) -> str:
    body = {
        "title": "Renew the passport",
        "description": "Photos from the booth on Main Street; the old passport and the form are in the desk drawer.",
        "completed": False,
        "priority": "high",
        "due_date": "2026-12-01T09:30:00+02:00",
    }
    if "tags" in fields:
        body["tags"] = ["errands", "home"]
    return json.dumps(body)


def scenarios(ids: list[int], fields: list[str]) -> list[Scenario]:
    tasks = f"/api/{BENCH_USER}/tasks/"
    body = task_body(fields)
    return [
        Scenario("list", "GET", tasks),
        Scenario("list filtered", "GET", tasks + "?completed=false&ordering=-priority"),
        Scenario("retrieve", "GET", tasks + "{id}/", ids=tuple(ids)),
        Scenario("create", "POST", tasks, body=body, writes=True),
        Scenario("full update", "PUT", tasks + "{id}/", body=body, ids=tuple(ids), writes=True),
        Scenario("toggle complete", "PATCH", tasks + "{id}/complete/", ids=tuple(ids), writes=True),
        # The change feed with nothing new; the cursor is filled in just before each run (Bench.measure).
        Scenario("feed", "GET", tasks + "changes/?since={cursor}"),
    ]


def current_cursor(port: int, token: str) -> str:
    """The bench user's cursor as of now, from following the feed to its end."""
    path, cursor = f"/api/{BENCH_USER}/tasks/changes/?limit=500", None
    while True:
        answer = check.request(port, "GET", path + (f"&since={cursor}" if cursor else ""), token=token)
        body = json.loads(answer.body)
        cursor = body["cursor"]
        if not body["has_more"]:
            return cursor


def probe_representation(port: int, token: str, task: int) -> tuple[list[str], bool]:
    """Our API's task fields, in order, and whether a task carries an ETag: the floor mirrors them."""
    answer = check.request(port, "GET", f"/api/{BENCH_USER}/tasks/{task}/", token=token)
    if answer.status != 200:
        raise RuntimeError(f"our API answered {answer.status} to a retrieve: {answer.body[:300]!r}")
    return list(json.loads(answer.body)), "etag" in answer.headers


def captured_sql(env: dict[str, str], path: str, token: str) -> list[str]:
    """The statements our app runs for a GET, from Django itself, with their parameters in place."""
    script = Path(__file__).resolve().parent / "capture_sql.py"
    quiet = {**env, "LOG_LEVEL": "WARNING", "PYTHONWARNINGS": "ignore"}
    output = subprocess.run([sys.executable, str(script), path, token], env=quiet, capture_output=True, text=True)
    if output.returncode:
        raise RuntimeError(f"capturing the list's SQL failed:\n{output.stderr}")
    return [statement for statement in json.loads(output.stdout) if statement.startswith("SELECT")]


def explained(sql: str) -> str:
    return f"-- {sql}\n" + seed.explain(DATABASE_URL, sql)


def versions() -> str:
    packages = ["Django", "djangorestframework", "gunicorn", "psycopg", "PyJWT", "orjson"]
    parts = [f"Python {platform.python_version()}"] + [f"{name} {metadata.version(name)}" for name in packages]
    parts.append(f"PostgreSQL {seed.server_version(DATABASE_URL)}")
    parts.append(f"Redis {redis.Redis.from_url(REDIS_URL).info('server')['redis_version']}")
    parts.append(load.wrk_version())
    return ", ".join(parts)


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown CPU")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    kib = int(next(line.split()[1] for line in meminfo if line.startswith("MemTotal:")))
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{kib / 1024**2:.1f} GiB",
        "kernel": f"Linux {platform.release()}",
    }


def git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.rstrip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line[3:] != "BENCHMARKS.md"]
    if not changed:
        return f"commit {commit}"
    return f"commit {commit}, with uncommitted changes to {', '.join(changed)} (as of the start of the run)"


class Bench:
    """One run: the database, both servers, the load, and what it measured."""

    def __init__(self, args: argparse.Namespace, logs: Path) -> None:
        self.args = args
        self.logs = logs
        # gunicorn.conf.py's own default (the deployment's) unless the run says otherwise.
        self.workers = args.workers or (os.cpu_count() or 1) * 2 + 1
        self.env = server_environment(self.workers)
        self.token = mint(self.env)
        self.servers: dict[str, Server] = {}

    def say(self, message: str) -> None:
        print(message, flush=True)

    def prepare_database(self) -> list[int]:
        started = time.monotonic()
        seed.recreate(DATABASE_URL)
        seed.migrate(self.env)
        seed.seed(
            DATABASE_URL,
            bench_user=BENCH_USER,
            bench_tasks=BENCH_TASKS,
            other_users=OTHER_USERS,
            other_tasks=OTHER_TASKS,
        )
        ids = seed.bench_task_ids(DATABASE_URL)
        random.Random(1).shuffle(ids)
        self.say(f"Seeded {seed.table_rows(DATABASE_URL):,} tasks in {time.monotonic() - started:.1f} s.")
        return ids

    def start(self, name: str, env: dict[str, str], app: str | None = None) -> Server:
        server = Server(name, free_port(), env, self.logs / f"{name}.log", app)
        self.servers[name] = server
        server.wait_ready(f"/api/{BENCH_USER}/tasks/")
        return server

    def reset(self) -> None:
        seed.reset(DATABASE_URL, BENCH_USER)

    def with_cursor(self, scenario: Scenario) -> Scenario:
        # Writes (the other scenarios, and their reset) move the feed on: a cursor read now has nothing new.
        if "{cursor}" not in scenario.path:
            return scenario
        cursor = current_cursor(self.servers["ours"].port, self.token)
        return dataclasses.replace(scenario, path=scenario.path.replace("{cursor}", cursor))

    def measure(self, scenario: Scenario, server: Server, *, connections: int, threads: int) -> Figures:
        scenario = self.with_cursor(scenario)
        options = {"connections": connections, "threads": threads}
        load.measure(scenario, server.url, self.token, seconds=self.args.warmup, **options)
        before = cpu.snapshot()
        figures = load.measure(scenario, server.url, self.token, seconds=self.args.duration, **options)
        after = cpu.snapshot()
        idle = next(other for other in self.servers.values() if other is not server)
        figures.cpu = cpu.usage(
            before,
            after,
            master=server.process.pid,
            idle_master=idle.process.pid,
            database=DATABASE,
            requests=figures.requests,
        )
        if scenario.writes:
            self.reset()
        return figures

    def order(self, round_index: int) -> list[str]:
        # Whoever goes first swaps every round, so neither always meets a warmer cache or a calmer machine.
        return ["ours", "floor"] if round_index % 2 == 0 else ["floor", "ours"]

    def rss(self, results: report.Results, label: str) -> None:
        for name, server in self.servers.items():
            results.rss.setdefault(name, []).append((label, server.worker_rss_kib()))

    def single_client(self, results: report.Results, size: str, list_scenario: Scenario, round_index: int) -> None:
        for name in self.order(round_index):
            figures = self.measure(list_scenario, self.servers[name], connections=1, threads=1)
            results.single.setdefault(size, {}).setdefault(name, []).append(figures)
            self.say(
                f"  single-client list, {size} rows, {name:5}: p50 {figures.p50_us / 1000:.2f} ms"
                f"  other load {figures.cpu.foreign_share:4.0%}"
            )

    def soak(self, results: report.Results, list_scenario: Scenario) -> None:
        server = self.servers["ours"]
        self.say(f"Soak: {self.args.soak:.0f} s of the list on our API, RSS every 10 s.")
        process = load.run(
            list_scenario, server.url, self.token, seconds=self.args.soak, connections=self.args.connections, threads=2
        )
        started = time.monotonic()
        try:
            while process.poll() is None:
                results.soak.append((time.monotonic() - started, server.worker_rss_kib()))
                time.sleep(max(0.0, 10 - (time.monotonic() - started) % 10))
            load.finish(process)
        finally:
            if process.poll() is None:
                process.kill()

    def run(self) -> report.Results:
        args = self.args
        ids = self.prepare_database()
        ours = self.start("ours", self.env)
        fields, etag = probe_representation(ours.port, self.token, ids[0])
        floor_env = {**self.env, "FLOOR_FIELDS": ",".join(fields), "FLOOR_ETAG": "1" if etag else "0"}
        self.start("floor", floor_env, app="bench.floor:app")
        plan = scenarios(ids, fields)
        settings = {
            "workers": str(self.workers),
            "connections": str(args.connections),
            "threads": "2",
            "duration": f"{args.duration:g}",
            "warmup": f"{args.warmup:g}",
            "rounds": str(args.rounds),
            "throttle_rate": THROTTLE_RATE,
            "database": DATABASE,
            "bench_tasks": f"{BENCH_TASKS:,}",
            "other_tasks": f"{OTHER_TASKS:,}",
            "other_users": f"{OTHER_USERS:,}",
        }
        results = report.Results(meta={}, settings=settings)
        results.rows_in_table["100k"] = seed.table_rows(DATABASE_URL)

        errors = [
            ("401 without a token", "GET", f"/api/{BENCH_USER}/tasks/", None),
            ("401 with a bad token", "GET", f"/api/{BENCH_USER}/tasks/", self.token[:-2]),
            ("403 for another user's URL", "GET", "/api/someone-else/tasks/", self.token),
            ("404 for an unknown task", "GET", f"/api/{BENCH_USER}/tasks/999999999/", self.token),
        ]
        ports = (ours.port, self.servers["floor"].port)
        fixed = [scenario for scenario in plan if "{cursor}" not in scenario.path]
        results.differences = check.compare(fixed, errors, ports, self.token, self.reset)
        # After the writes compared above, with a cursor that has seen them.
        feeds = [self.with_cursor(scenario) for scenario in plan if scenario not in fixed]
        results.differences += check.compare(feeds, [], ports, self.token, self.reset)
        for difference in results.differences:
            self.say(f"FAIRNESS: {difference}")
        self.rss(results, "after start")

        for round_index in range(args.rounds):
            self.say(f"Round {round_index + 1} of {args.rounds}:")
            for scenario in plan:
                for name in self.order(round_index):
                    figures = self.measure(scenario, self.servers[name], connections=args.connections, threads=2)
                    results.runs.setdefault(scenario.name, {}).setdefault(name, []).append(figures)
                    self.say(
                        f"  {scenario.name:16} {name:5} {figures.rps:7.0f} req/s  p50 {figures.p50_us / 1000:6.1f} ms"
                        f"  p99 {figures.p99_us / 1000:6.1f} ms  non-2xx {figures.non2xx + figures.socket_errors}"
                        f"  CPU/req {figures.cpu.worker_ms:5.2f} + {figures.cpu.database_ms:4.2f} ms"
                        f"  other load {figures.cpu.foreign_share:4.0%}"
                    )
            self.single_client(results, "100k", plan[0], round_index)
            self.rss(results, f"after round {round_index + 1}")

        if args.soak:
            self.soak(results, plan[0])
            self.rss(results, "after the soak")

        if not args.skip_million:
            self.million(results, plan[0])
        return results

    def million(self, results: report.Results, list_scenario: Scenario) -> None:
        # The list's own two statements; the third, the change counter's primary-key read for its ETag, does not
        # grow with the table.
        count_sql, page_sql = [
            sql for sql in captured_sql(self.env, list_scenario.path, self.token) if '"tasks_task"' in sql
        ]
        results.plans[f"Our list's page query, {results.rows_in_table['100k']:,} rows"] = explained(page_sql)
        results.plans[f"Our list's count query, {results.rows_in_table['100k']:,} rows"] = explained(count_sql)
        started = time.monotonic()
        extra = MILLION - results.rows_in_table["100k"]
        seed.grow(DATABASE_URL, other_users=OTHER_USERS, extra_tasks=extra, first=BENCH_TASKS + OTHER_TASKS + 1)
        rows = results.rows_in_table["1M"] = seed.table_rows(DATABASE_URL)
        self.say(f"Grew the table to {rows:,} rows in {time.monotonic() - started:.1f} s.")
        results.plans[f"Our list's page query, {rows:,} rows"] = explained(page_sql)
        results.plans[f"Our list's count query, {rows:,} rows"] = explained(count_sql)
        for round_index in range(self.args.rounds):
            self.single_client(results, "1M", list_scenario, round_index)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def errors_logged(self) -> int:
        log = self.logs / "ours.log"
        if not log.is_file():
            return 0
        with log.open(errors="replace") as lines:
            return sum('"level": "ERROR"' in line for line in lines)


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    load.ensure_wrk()
    # A plain `kill` must stop the servers too: turn SIGTERM into the same unwinding as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logs = Path(tempfile.mkdtemp(prefix="todo-bench-"))
    # The code as the servers load it: others may commit or edit while the run goes on.
    code = git_state()
    bench = Bench(args, logs)
    try:
        results = bench.run()
        results.errors_logged = bench.errors_logged()
    except KeyboardInterrupt:
        print(f"\nInterrupted: servers stopped; their logs are in {logs}.", file=sys.stderr)
        return 130
    except BaseException:
        print(f"The servers' logs are kept in {logs}.", file=sys.stderr)
        raise
    finally:
        bench.stop()
    elapsed = time.monotonic() - started
    results.meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git": code,
        **machine(),
        "versions": versions(),
        "command": "python bench/run.py " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "make bench",
        "elapsed": f"{elapsed / 60:.1f} minutes",
    }
    seed.drop(DATABASE_URL)
    for log in logs.iterdir():
        log.unlink()
    logs.rmdir()
    print(report.console(results))
    report.write(results, BENCHMARKS, NOTES)
    print(f"\nWrote {BENCHMARKS.relative_to(ROOT)} ({elapsed / 60:.1f} minutes).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
