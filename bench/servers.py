"""The two servers under test, both run as deployed: deploy/serve.py, nginx in front of gunicorn and the
project's gunicorn.conf.py."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"


class Server:
    """The stack's launcher in its own process group, so stopping it stops nginx, gunicorn and their workers."""

    def __init__(self, name: str, port: int, env: dict[str, str], log: Path, app: str | None = None) -> None:
        self.name = name
        self.port = port
        # A positional app replaces gunicorn.conf.py's wsgi_app; every other setting is the deployment's.
        command = [str(PYTHON), "deploy/serve.py", *([app] if app else [])]
        env = {**env, "SERVE_BIND": f"127.0.0.1:{port}"}
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
        """gunicorn's workers: the children of the launcher's gunicorn master."""
        pids = _all_pids()
        masters = {pid for pid in pids if _parent(pid) == self.process.pid and b"gunicorn" in _command_line(pid)}
        return sorted(pid for pid in pids if _parent(pid) in masters)

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
            self.process.terminate()  # the launcher stops nginx and gunicorn
            self.process.wait(timeout=40)
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


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
