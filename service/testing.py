"""A real server for tests and benchmarks: ``totaldemand serve`` (or ``up``) in a subprocess on loopback,
with a fresh data directory, that can be stopped gracefully or killed outright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """``totaldemand serve`` in a subprocess: a real HTTP server on loopback."""

    home: Path
    data: Path | None = None  # seed dataset; None: the embedded default
    model: Path | None = None
    process: subprocess.Popen | None = None
    port: int = 0
    workers: int = 1  # uvicorn worker processes
    command: str = "serve"  # or "up": the default model made current (fitted if need be), then served

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "TOTALDEMAND_HOME": str(self.home),
            "TOTALDEMAND_RELOAD_SECONDS": "0.5",
            "JAX_PLATFORMS": "cpu",
        }
        env.pop("TOTALDEMAND_DATA", None)
        if self.data is not None:
            env["TOTALDEMAND_DATA"] = str(self.data)
        return env

    def start(self, timeout: float = 120.0) -> LiveServer:
        self.port = free_port()
        command = [sys.executable, "-m", "totaldemand.cli", self.command, "--port", str(self.port)]
        if self.model is not None:
            command += ["--model", str(self.model)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "server.log").open("ab")
        self.process = subprocess.Popen(command, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"server did not come up: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what a crash or the OOM killer does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


def admin_token(server: LiveServer) -> str:
    """An admin key created the way an operator would, with the CLI against the server's database."""
    out = subprocess.run(
        [sys.executable, "-m", "totaldemand.cli", "keys", "create", "--name", "test", "--role", "admin"],
        env=server.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]
