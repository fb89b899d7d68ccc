"""A local BigQuery: the `bqemulator` server, started and stopped by whoever needs it.

`Emulator` runs `bqemulator` (a BigQuery REST API backed by DuckDB) as a child process on
loopback ports it picks itself, waits until the API answers, hands out
`google.cloud.bigquery.Client` objects pointed at it, and stops it on exit:

    with Emulator(project="acme-warehouse-dev") as emu:
        client = emu.client()

The server lives in its own virtualenv, `.venv-bqemulator` at the repository root (created by
`make setup` from requirements-bqemulator.txt), because it is a service with its own dependency
tree, not a library of the project; `WAREHOUSE_BQEMULATOR_PYTHON` points at another interpreter.

Deliberately left out: persistence (every start is an empty, in-memory warehouse), the gRPC
Storage APIs (a port is reserved because the server insists on one, but no client is made for it),
authentication (the client sends anonymous credentials), any seeding of data, and reaping: a
server whose parent is killed with SIGKILL outlives it (Ctrl-C reaches both). What the emulator
does and does not support of BigQuery's SQL and API is written down in docs/local-bigquery.md.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import bigquery

# The repository root is the parent of the `infra` package (this file is infra/local/emulator.py).
ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv-bqemulator" / "bin" / "python"
PYTHON_ENV_VAR = "WAREHOUSE_BQEMULATOR_PYTHON"
HOST = "127.0.0.1"
LOG_TAIL_LINES = 40


class EmulatorUnavailable(RuntimeError):
    """The emulator is not installed where it is looked for."""


class EmulatorFailed(RuntimeError):
    """The emulator was installed but did not start (or exited); the message holds its log tail."""


def emulator_python() -> Path:
    """The interpreter of the emulator's virtualenv (the environment variable wins)."""
    override = os.environ.get(PYTHON_ENV_VAR)
    return Path(override) if override else VENV_PYTHON


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that are free now.

    All sockets stay open until every port is picked, so the ports differ; the server binds them
    a moment later, a race that only another process grabbing the same port can lose.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Emulator:
    """One `bqemulator` server on loopback; a context manager that starts and stops it."""

    def __init__(self, project: str = "acme-warehouse-dev", *, start_timeout: float = 60.0,
                 stop_timeout: float = 5.0, python: Path | None = None) -> None:
        self.project = project
        # A cold start takes a few seconds; 60 s leaves room for a loaded CI machine.
        self.start_timeout = start_timeout
        # The server shuts down in well under a second on SIGTERM; after this it is killed.
        self.stop_timeout = stop_timeout
        self.python = python or emulator_python()
        self.rest_port: int | None = None
        self.grpc_port: int | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._log = None

    @property
    def url(self) -> str:
        """Base URL of the REST API (what `ClientOptions.api_endpoint` takes)."""
        if self.rest_port is None:
            raise RuntimeError("the emulator is not started: use `with Emulator(...) as emu:`")
        return f"http://{HOST}:{self.rest_port}"

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "bqemulator.log" if self._workdir else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self) -> bigquery.Client:
        """A BigQuery client for this emulator, with anonymous credentials (nothing checks them)."""
        # Imported here so that code which only starts and stops the server needs no client library.
        from infra.ops.bigquery_client import connect

        return connect(self.project, self.url)

    def start(self) -> Emulator:
        if self._process is not None:
            raise RuntimeError("the emulator is already started")
        if not self.python.exists():
            raise EmulatorUnavailable(
                f"the local BigQuery emulator is not installed: {self.python} does not exist; "
                f"run `make setup` (it creates .venv-bqemulator from requirements-bqemulator.txt)"
                f", or set {PYTHON_ENV_VAR} to the python of a virtualenv that has bqemulator")
        self.rest_port, self.grpc_port = free_ports(2)
        # The working directory is a fresh temporary one: the server reads `.bqemu.toml` from its
        # working directory, and the log goes there too.
        self._workdir = Path(tempfile.mkdtemp(prefix="bqemulator-"))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - open for the server's life; stop() closes it
        command = [str(self.python), "-m", "bqemulator", "start",
                   "--rest-host", HOST, "--rest-port", str(self.rest_port),
                   "--grpc-host", HOST, "--grpc-port", str(self.grpc_port),
                   "--ephemeral", "--project", self.project, "--log-level", "warning"]
        began = time.monotonic()
        self._process = subprocess.Popen(command, cwd=self._workdir, env=self._environment(),
                                         stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT)
        try:
            self._wait_until_ready(began)
        except BaseException:
            self.stop(keep_log=True)
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self, keep_log: bool = False) -> None:
        """Terminate the server (kill it if it lingers) and remove its working directory, unless
        `keep_log` (a failed start keeps its log, whose path the error names)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None and not keep_log:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               # The server reads BQEMU_* settings: a developer's own ones must not change the
               # emulator the tests run against.
               if not key.upper().startswith("BQEMU_")}
        # The avro extension is only for Avro load/extract jobs, which the project does not use;
        # offline the server would try to download it at every start.
        env["BQEMU_ENABLE_FORMAT_EXTENSIONS"] = "false"
        return env

    def _wait_until_ready(self, began: float) -> None:
        deadline = began + self.start_timeout
        while True:
            if self._process.poll() is not None:
                raise EmulatorFailed(
                    f"the BigQuery emulator exited with code {self._process.returncode} before it "
                    f"answered on {self.url}{self._hint()}\n{self._log_tail()}")
            if self._answers():
                return
            if time.monotonic() > deadline:
                raise EmulatorFailed(
                    f"the BigQuery emulator did not answer on {self.url} within "
                    f"{self.start_timeout:.0f} s\n{self._log_tail()}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        # /readyz answers 200 once DuckDB and the catalog respond, i.e. the REST API is usable.
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _hint(self) -> str:
        if "spatial extension is required" in self._log_text():
            return ("; DuckDB's spatial extension is not installed for this user: run "
                    f"`{self.python} -c 'import duckdb_extensions; "
                    "duckdb_extensions.import_extension(\"spatial\")'`")
        return ""

    def _log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def _log_tail(self) -> str:
        lines = self._log_text().splitlines()[-LOG_TAIL_LINES:]
        return f"last {len(lines)} lines of {self.log_path}:\n" + "\n".join(lines)
