"""The media servers the video tests run beside the service, from the distribution's packages
(tests/prerequisites.sh installs them): coturn (TURN) and Janus. Each starts once per test session on
loopback, with a configuration the test writes, and stops at the end. Without the package the test
fails: a skipped test would prove nothing."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import free_port

START_WITHIN_S = 20.0


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(argv: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a server and wait until it accepts TCP connections on `port` (or fail with its log)."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_WITHIN_S
    while not _listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"{argv[0]} did not listen on 127.0.0.1:{port} within {START_WITHIN_S} s:\n{tail}")
        time.sleep(0.05)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Turn:
    port: int
    secret: str

    @property
    def urls(self) -> list[str]:
        return [f"turn:127.0.0.1:{self.port}?transport=udp"]


def _executable(name: str, package: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if found is None:
        pytest.fail(f"{name} is missing: apt-get install -y {package} (tests/prerequisites.sh does it)")
    return found


@pytest.fixture(scope="session")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Turn]:
    """coturn on 127.0.0.1 with the service's kind of credentials (use-auth-secret). Unlike
    video/turnserver.conf.example it relays to loopback: the media relay listens there in the tests."""
    binary = _executable("turnserver", "coturn")
    here = tmp_path_factory.mktemp("coturn")
    turn = Turn(free_port(), secrets.token_urlsafe(32))
    relay_from = 40_000 + turn.port % 20_000  # a range of its own, away from other sessions' coturn
    (here / "turnserver.conf").write_text(
        "\n".join(
            [
                f"listening-port={turn.port}",
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"min-port={relay_from}",
                f"max-port={relay_from + 199}",
                "realm=sip.test",
                "use-auth-secret",
                f"static-auth-secret={turn.secret}",
                "allow-loopback-peers",
                "no-tls",
                "no-dtls",
                "no-tcp-relay",
                "no-cli",
                "no-rfc5780",
                "simple-log",
                f"log-file={here / 'turnserver.log'}",
                f"pidfile={here / 'turnserver.pid'}",
                "",
            ]
        )
    )
    process = start([binary, "-c", str(here / "turnserver.conf")], turn.port, here / "stdout.log")
    try:
        yield turn
    finally:
        stop(process)
