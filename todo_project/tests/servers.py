"""Real server processes for tests that need more than one process or a broken dependency."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(**overrides: str) -> dict[str, str]:
    """The test run's own environment with debug off, as a deployment would run."""
    return {**os.environ, "DJANGO_DEBUG": "0", **overrides}


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )


class Server:
    def __init__(self, process: subprocess.Popen, url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def worker_pids(self) -> set[int]:
        """The gunicorn workers behind this server's edge: the children of the launcher's gunicorn master."""
        masters = {pid for pid in children(self.process.pid) if b"gunicorn" in command_line(pid)}
        return {pid for master in masters for pid in children(master)}


def children(parent: int) -> set[int]:
    """The pids of the processes whose parent is ``parent``, from /proc."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces; the parent pid is the 2nd field after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == parent:
            pids.add(int(stat.parent.name))
    return pids


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@contextmanager
def serve(env: dict[str, str], log: Path, *, workers: int = 1) -> Iterator[Server]:
    """The production stack as ``make serve`` runs it (deploy/serve.py: nginx in front of gunicorn with the
    project's gunicorn.conf.py) on a free loopback port, stopped afterwards."""
    port = free_port()
    env = {**env, "SERVE_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}
    with log.open("w") as stream:
        process = subprocess.Popen(
            [sys.executable, "deploy/serve.py"], cwd=ROOT, env=env, stdout=stream, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=40)


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited: {server.log.read_text()}")
        try:
            urllib.request.urlopen(f"{server.url}/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start: {server.log.read_text()}")


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        """The first error code of a body in the project's error shape, or None."""
        try:
            return self.json()["errors"][0]["code"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None


class Client:
    """Raw HTTP/1.1 to one server: bytes in, bytes out, nothing a higher-level client would tidy up.

    One connection per request, so that each test's requests are independent of the one before.
    """

    def __init__(self, server: Server, *, token: str | None = None, timeout: float = 30) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send a request; an iterable body goes chunked (``Transfer-Encoding: chunked``, no Content-Length)."""
        headers = dict(headers or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        chunked = body is not None and not isinstance(body, bytes)
        try:
            try:
                self.connection.request(method, path, body=body, headers=headers, encode_chunked=chunked)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered (a 413) without reading the whole body: its answer is still there
            response = self.connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            self.connection.close()

    def json(self, method: str, path: str, payload: object = None, headers: dict[str, str] | None = None) -> Response:
        body = None if payload is None else json.dumps(payload).encode()
        return self.request(method, path, body, headers)


# PostgreSQL for servers under test: a throwaway database on the server the test run uses.
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432"


def postgres_server() -> str:
    """``scheme://user@host:port`` of DATABASE_URL when it names PostgreSQL, else the local default."""
    url = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", ""))
    if url.scheme in ("postgres", "postgresql", "pgsql"):
        return f"postgres://{url.netloc}"
    return DEFAULT_POSTGRES


def create_database(server: str, prefix: str = "todo_rel") -> str:
    """A new, empty database with a unique name; returns its URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def drop_database(url: str) -> None:
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def through_proxy(url: str, proxy: TcpProxy, **query: str) -> str:
    """``url`` reaching its server through ``proxy`` instead, with ``query`` parameters added."""
    parts = urllib.parse.urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}@127.0.0.1:{proxy.port}" if user else f"127.0.0.1:{proxy.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=urllib.parse.urlencode(query)))


class TcpProxy:
    """A loopback TCP proxy in a thread, to break the path to a dependency without touching the dependency.

    ``cut()`` closes every open connection and answers new ones by closing them at once, as a database
    that went away would; ``cut(hang=True)`` instead leaves new connections open and silent, as a
    dependency behind a broken network would; ``restore()`` forwards again.
    """

    def __init__(self, target_url: str) -> None:
        target = urllib.parse.urlsplit(target_url)
        self.target = (target.hostname or "127.0.0.1", target.port or 5432)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.state = "open"
        self.connections = 0
        self._pairs: set[tuple[socket.socket, socket.socket | None]] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut(self, *, hang: bool = False) -> None:
        with self._lock:
            self.state = "hang" if hang else "refuse"
            self._close_all()

    def restore(self) -> None:
        with self._lock:
            self.state = "open"
            self._close_all()  # the silent ones held by a hang

    def close(self) -> None:
        self._stopped.set()
        self.listener.close()
        with self._lock:
            self._close_all()
        self._thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _close_all(self) -> None:
        for pair in self._pairs:
            for sock in pair:
                if sock is not None:
                    # shutdown() ends the connection at once, even while the forwarding thread holds it.
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
        self._pairs.clear()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:  # the listener was closed
                return
            with self._lock:
                self.connections += 1
                if self.state == "refuse":
                    client.close()
                    continue
                if self.state == "hang":
                    self._pairs.add((client, None))
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.add((client, upstream))
            threading.Thread(target=self._forward, args=(client, upstream), daemon=True).start()

    def _forward(self, client: socket.socket, upstream: socket.socket) -> None:
        """Both directions until either side closes (or cut() closes both)."""
        peers = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                sock.setblocking(True)
                selector.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select(timeout=0.5):
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        peers[key.fileobj].sendall(data)
                    if client.fileno() < 0 or upstream.fileno() < 0:
                        return
            except (OSError, ValueError):  # closed under us by cut()
                return
            finally:
                with self._lock:
                    self._pairs.discard((client, upstream))
                client.close()
                upstream.close()
