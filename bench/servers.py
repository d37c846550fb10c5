"""The two servers under test, both run by gunicorn with the project's own gunicorn.conf.py."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


class Server:
    """A gunicorn master in its own process group, so stopping it stops every worker it forked."""

    def __init__(self, name: str, port: int, env: dict[str, str], log: Path, app: str | None = None) -> None:
        self.name = name
        self.port = port
        # A positional app overrides gunicorn.conf.py's wsgi_app; every other setting is the deployment's.
        command = [str(GUNICORN), "-c", "gunicorn.conf.py", *([app] if app else [])]
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 30) -> None:
        """Until a request gets any HTTP answer: the app is loaded and a worker accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", path)
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout} s; see {self.log}")

    def workers(self) -> list[int]:
        return sorted(pid for pid in _all_pids() if _parent(pid) == self.process.pid)

    def worker_rss_kib(self) -> dict[int, int]:
        """Resident memory of each worker, from /proc (VmRSS, in KiB)."""
        sizes = {}
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:  # a worker that was just replaced
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = int(line.split()[1])
        return sizes

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: fields restart after the last ")".
    return int(stat.rsplit(")", 1)[1].split()[1])
