"""Which serving stack: the candidates measured on what the edge must survive (``python bench/edge.py``).

For each candidate, serving the project's own app on PostgreSQL and Redis:

- 50 clients trickle their headers, then (another run) their bodies, a byte every 0.5 s for 15 s, while a prober
  sends one authenticated GET every 0.2 s: the share of probes answered and their p99;
- what a malformed request line gets back (the contract wants the project's JSON error shape);
- whether a client keeps its connection across requests;
- retrieve requests/s under wrk, 16 connections, 10 s, after a 3 s warm-up.

The project's own stack (nginx in front of gunicorn, ``deploy/serve.py``) runs from the project's virtualenv; the
others (gunicorn's gthread workers, granian, uvicorn with Django's ASGI handler) from a throwaway virtualenv the
script makes in the system's temporary directory. Needs what ``make bench`` needs, and takes about 6 minutes.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import jwt
import psycopg
import seed
from load import ensure_wrk
from run import free_port, server_environment

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/todo_edge"
USER = "edge-user"
WORKERS = (os.cpu_count() or 1) * 2 + 1
CANDIDATE_VENV = Path(tempfile.gettempdir()) / "todo-edge-candidates"
SLOW_CLIENTS, SLOW_SECONDS, PROBE_EVERY = 50, 15, 0.2


def candidates(port: int) -> dict[str, list[str]]:
    """Each stack's command, serving the project's app on ``port`` with WORKERS workers."""
    other = CANDIDATE_VENV / "bin"
    bind = f"127.0.0.1:{port}"
    gunicorn = [str(other / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", bind]
    return {
        "gunicorn sync, alone": gunicorn,
        "gunicorn gthread (4 threads), alone": [*gunicorn, "--worker-class", "gthread", "--threads", "4"],
        "granian (WSGI)": [
            *[str(other / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port)],
            *["--workers", str(WORKERS), "--no-ws", "todo_project.wsgi:application"],
        ],
        "uvicorn (Django's ASGI handler)": [
            *[str(other / "uvicorn"), "todo_project.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
            *["--workers", str(WORKERS), "--no-access-log"],
        ],
        "nginx + gunicorn sync (ours, deploy/serve.py)": [str(ROOT / ".venv" / "bin" / "python"), "deploy/serve.py"],
    }


def install_candidates() -> None:
    if (CANDIDATE_VENV / "bin" / "uvicorn").exists():
        return
    print(f"Installing the candidates in {CANDIDATE_VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(CANDIDATE_VENV)], check=True)
    pip = [str(CANDIDATE_VENV / "bin" / "pip"), "install", "--quiet"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt"), "granian", "uvicorn[standard]"], check=True)


def prepare(env: dict[str, str]) -> int:
    seed.recreate(DATABASE_URL)
    seed.migrate(env)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO tasks_task (user_id, title, description, completed, priority, tags, tag_keys, "
            "created_at, updated_at) VALUES (%s, 'Probe me', '', false, 2, '[]', '', now(), now()) RETURNING id",
            [USER],
        ).fetchone()
    return row[0]


def wait_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the candidate exited")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the candidate did not answer")


def trickle(port: int, mode: str, token: str, stop: float) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            if mode == "headers":
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                payload = b"X-Slow: " + b"a" * 1000
            else:
                sock.sendall(
                    f"POST /api/{USER}/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n".encode()
                )
                payload = b'{"title": "' + b"a" * 989
            for byte in payload:
                if time.monotonic() >= stop:
                    return
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
    except OSError:
        return


def slow_clients(port: int, mode: str, token: str, task: int) -> str:
    stop = time.monotonic() + SLOW_SECONDS
    threads = [threading.Thread(target=trickle, args=(port, mode, token, stop)) for _ in range(SLOW_CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    outcomes: list[tuple[bool, float]] = []
    while time.monotonic() < stop:
        started = time.monotonic()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", f"/api/{USER}/tasks/{task}/", headers={"Authorization": f"Bearer {token}"})
            answered = connection.getresponse().status == 200
            connection.close()
        except OSError:
            answered = False
        outcomes.append((answered, time.monotonic() - started))
        time.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - started)))
    for thread in threads:
        thread.join()
    latencies = sorted(seconds for _, seconds in outcomes)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    answered = sum(ok for ok, _ in outcomes)
    return f"{100 * answered / len(outcomes):.0f}% of {len(outcomes)}, p99 {p99 * 1000:.0f} ms"


def malformed(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except OSError:
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    content_type = next(
        (
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-type")
        ),
        "none",
    )
    return f"{status or 'closed'}, {content_type}, {len(body)} bytes"


def keeps_alive(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/health")
    first = connection.getresponse()
    first.read()
    if first.will_close:
        return "no"
    connection.request("GET", "/health")
    connection.getresponse().read()
    return "yes"


def retrieve_rps(port: int, token: str, task: int) -> str:
    wrk = ensure_wrk()
    url = f"http://127.0.0.1:{port}/api/{USER}/tasks/{task}/"
    header = ["-H", f"Authorization: Bearer {token}"]
    subprocess.run([wrk, "-t2", "-c16", "-d3s", *header, url], capture_output=True, check=True)
    out = subprocess.run([wrk, "-t2", "-c16", "-d10s", *header, url], capture_output=True, text=True, check=True)
    rps = next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("Requests/sec"))
    errors = next((line.split()[-1] for line in out.stdout.splitlines() if "Non-2xx" in line), "0")
    return f"{float(rps):.0f} ({errors} non-2xx)"


def main() -> int:
    install_candidates()
    env = {**server_environment(WORKERS), "DATABASE_URL": DATABASE_URL, "DJANGO_ALLOWED_HOSTS": "*"}
    env["API_ANON_THROTTLE_RATE"] = env["API_THROTTLE_RATE"]
    task = prepare(env)
    now = int(time.time())
    token = jwt.encode({"sub": USER, "iat": now, "exp": now + 3600}, env["BETTER_AUTH_SECRET"], algorithm="HS256")
    rows = []
    try:
        for name in candidates(0):  # the names; each stack gets its own free port
            port = free_port()
            command = candidates(port)[name]
            run_env = {**env, "SERVE_BIND": f"127.0.0.1:{port}", "GUNICORN_BIND": f"127.0.0.1:{port}"}
            with tempfile.TemporaryFile() as log:
                process = subprocess.Popen(
                    command, cwd=ROOT, env=run_env, stdout=log, stderr=log, start_new_session=True
                )
                try:
                    wait_up(port, process)
                    print(f"{name}: measuring", flush=True)
                    rows.append(
                        (
                            name,
                            slow_clients(port, "headers", token, task),
                            slow_clients(port, "bodies", token, task),
                            malformed(port),
                            keeps_alive(port),
                            retrieve_rps(port, token, task),
                        )
                    )
                finally:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=30)
    finally:
        seed.drop(DATABASE_URL)
    print(
        "\n| stack | slow headers: probes answered | slow bodies: probes answered | malformed request line "
        "| keep-alive | retrieve req/s |\n|---|---|---|---|---|---|"
    )
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
