"""The production stack: nginx (deploy/nginx.conf) in front of gunicorn's sync workers on a unix socket.

    python deploy/serve.py [module:callable]

Listens on SERVE_BIND (default 127.0.0.1:8000). The optional WSGI app replaces gunicorn.conf.py's (the
benchmark's floor runs behind the same edge). Both processes write to this one's stdout and stderr, nginx's
error log as JSON lines without query strings. SIGTERM or SIGINT stops both; if either exits, the other is
stopped and this exits non-zero.
"""

from __future__ import annotations

import grp
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.logsafe import redact  # noqa: E402  (needs ROOT on the path when run as a script)

GUNICORN = Path(sys.executable).with_name("gunicorn")
TEMPLATE = Path(__file__).with_name("nginx.conf")
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 35  # gunicorn's graceful_timeout, and a little more


def main(argv: list[str]) -> int:
    app = argv[1:2]
    listen = os.environ.get("SERVE_BIND", "127.0.0.1:8000")
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if nginx is None:
        print("nginx is not installed (Debian: apt-get install nginx-light)", file=sys.stderr)
        return 1
    run = Path(tempfile.mkdtemp(prefix="todo-serve-"))
    try:
        socket_path = _prepare(run, listen)
        return _serve(run, socket_path, nginx, app)
    finally:
        shutil.rmtree(run, ignore_errors=True)


def _prepare(run: Path, listen: str) -> Path:
    """Renders nginx.conf into ``run`` and makes the socket's directory reachable by nginx's workers."""
    sockets = run / "socket"
    sockets.mkdir()
    user = ""
    if os.geteuid() == 0:
        # As root, nginx's workers switch to nobody: they need to pass through the run directory (not list
        # it) and to reach the socket, which no one else may.
        user = "user nobody nogroup;"
        run.chmod(0o711)
        os.chown(sockets, 0, grp.getgrnam("nogroup").gr_gid)
        sockets.chmod(0o710)
    socket_path = sockets / "gunicorn.sock"
    values = {"user": user, "run": str(run), "listen": listen, "socket": str(socket_path)}
    config = TEMPLATE.read_text()
    for name, value in values.items():
        config = config.replace(f"{{{{{name}}}}}", value)
    (run / "nginx.conf").write_text(config)
    return socket_path


def _serve(run: Path, socket_path: Path, nginx: str, app: list[str]) -> int:
    stopping = threading.Event()
    processes: list[subprocess.Popen] = []

    def forward(signum: int, frame: object) -> None:
        stopping.set()
        for process in processes:
            _signal(process, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    env = {**os.environ, "GUNICORN_BIND": f"unix:{socket_path}"}
    gunicorn = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", *app], cwd=ROOT, env=env)
    processes.append(gunicorn)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not socket_path.exists():
        if stopping.is_set() or gunicorn.poll() is not None or time.monotonic() > deadline:
            _stop(processes)
            return 0 if stopping.is_set() else 1
        time.sleep(0.05)

    command = [nginx, "-e", "stderr", "-p", str(run), "-c", str(run / "nginx.conf"), "-g", "daemon off;"]
    nginx_process = subprocess.Popen(command, cwd=run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(nginx_process)
    # Its access log (deploy/nginx.conf) is JSON built from safe variables already; its error log is not.
    pumps = [
        threading.Thread(target=_pump, args=(nginx_process.stdout, sys.stdout, str)),
        threading.Thread(target=_pump, args=(nginx_process.stderr, sys.stderr, _error_line)),
    ]
    for pump in pumps:
        pump.start()

    while not stopping.is_set() and all(process.poll() is None for process in processes):
        stopping.wait(0.2)
    _stop(processes)
    for pump in pumps:
        pump.join()
    return 0 if stopping.is_set() else 1


# nginx's error-log levels, as the app's logs name them.
LEVELS = {"debug": "DEBUG", "info": "INFO", "notice": "INFO", "warn": "WARNING", "error": "ERROR"}


def _error_line(line: str) -> str:
    """One line of nginx's error log as a JSON log line: its requests and referrers carry query strings."""
    # 2026/12/01 21:55:53 [error] 12#12: *1 message, client: …, request: "GET /?token=… HTTP/1.1"
    _, _, rest = line.partition(" [")
    level, _, message = rest.partition("] ")
    if not message:
        level, message = "error", line
    now = time.time()
    record = {
        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f",{int(now % 1 * 1000):03d}",
        "level": LEVELS.get(level, "CRITICAL"),
        "logger": "nginx",
        "message": redact(message),
    }
    return json.dumps(record)


def _pump(source: IO[str], sink: IO[str], transform: Callable[[str], str]) -> None:
    for line in source:
        line = line.rstrip("\n")
        if line:
            sink.write(transform(line) + "\n")
            sink.flush()


def _signal(process: subprocess.Popen, signum: int) -> None:
    if process.poll() is None:
        try:
            process.send_signal(signum)
        except ProcessLookupError:
            pass


def _stop(processes: list[subprocess.Popen]) -> None:
    """Stops what still runs: gracefully (gunicorn finishes its requests), then by force."""
    for process in processes:
        _signal(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
