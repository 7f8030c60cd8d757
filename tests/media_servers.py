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
from contextlib import contextmanager
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
    with turn_server(tmp_path_factory.mktemp("coturn"), "127.0.0.1") as turn:
        yield turn


@pytest.fixture(scope="session")
def coturn_for_janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Turn]:
    """coturn as `coturn`, its relayed addresses on the host address, where Janus's ICE is: with
    coturn relaying from loopback, Janus's ICE never completed (browsers relay-only, tried here)."""
    with turn_server(tmp_path_factory.mktemp("coturn-janus"), host_address()) as turn:
        yield turn


@contextmanager
def turn_server(here: Path, relay_ip: str) -> Iterator[Turn]:
    """coturn listening on 127.0.0.1, relaying from `relay_ip`; configured in `here`."""
    binary = _executable("turnserver", "coturn")
    turn = Turn(free_port(), secrets.token_urlsafe(32))
    relay_from = 40_000 + turn.port % 20_000  # a range of its own, away from other sessions' coturn
    (here / "turnserver.conf").write_text(
        "\n".join(
            [
                f"listening-port={turn.port}",
                "listening-ip=127.0.0.1",
                f"relay-ip={relay_ip}",
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


@dataclass(frozen=True)
class Janus:
    url: str  # its HTTP API (the REST transport), on loopback only
    admin_key: str  # the VideoRoom plugin's: only who has it creates rooms
    address: str  # where its ICE listens: a host address (Janus never gathers on loopback interfaces)


def host_address() -> str:
    """An IPv4 address of this machine's own, not loopback: the one its default route leaves from.
    Janus's ICE skips loopback interfaces (ice.c), so media goes over this one, within the machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))  # TEST-NET-1: only the route is looked up, nothing is sent
        except OSError as exc:
            pytest.fail(f"no IPv4 address besides loopback for Janus's ICE ({exc})")
        address: str = s.getsockname()[0]
    return address


def _jcfg(sections: dict[str, dict[str, object]]) -> str:
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v) if isinstance(v, int) else f'"{v}"'

    return "".join(
        f"{name}: {{\n" + "".join(f"\t{k} = {value(v)}\n" for k, v in items.items()) + "}\n"
        for name, items in sections.items()
    )


@pytest.fixture(scope="session")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Janus]:
    """Janus on 127.0.0.1 for the whole session (see `janus_server`)."""
    with janus_server(tmp_path_factory.mktemp("janus")) as (server, _):
        yield server


@contextmanager
def janus_server(here: Path, admin_key: str | None = None) -> Iterator[tuple[Janus, subprocess.Popen[bytes]]]:
    """Janus on 127.0.0.1 (its HTTP API; ICE on the host address) with only the VideoRoom plugin and
    the HTTP transport, an admin key for creating rooms, and a UDP port range of its own; configured
    in `here`. With its process, for a test that kills it."""
    _executable("janus", "janus")  # fail at once, saying how to install it
    folders = sorted(Path("/usr/lib").glob("*/janus/plugins"))
    if not folders:
        pytest.fail("Janus's plugins are missing (/usr/lib/<arch>/janus/plugins): apt-get install -y janus")
    lib = folders[0].parent
    port, admin_key, address = free_port(), admin_key or secrets.token_urlsafe(24), host_address()
    rtp_from = 20_000 + port % 20_000  # a range of its own, away from other sessions' Janus and coturn's
    others = ",".join
    (here / "janus.jcfg").write_text(
        _jcfg(
            {
                "general": {
                    "configs_folder": str(here),
                    "plugins_folder": str(lib / "plugins"),
                    "transports_folder": str(lib / "transports"),
                    "events_folder": str(lib / "events"),
                    "loggers_folder": str(lib / "loggers"),
                    "log_to_stdout": True,
                    "debug_level": 4,
                    "session_timeout": 60,
                },
                "certificates": {},
                "media": {"rtp_port_range": f"{rtp_from}-{rtp_from + 399}", "no_media_timer": 1},
                "nat": {"ice_enforce_list": address, "ignore_mdns": True},
                "plugins": {
                    "disable": others(p.name for p in (lib / "plugins").glob("*.so") if "videoroom" not in p.name)
                },
                "transports": {
                    "disable": others(p.name for p in (lib / "transports").glob("*.so") if "_http" not in p.name)
                },
                "loggers": {"disable": others(p.name for p in (lib / "loggers").glob("*.so"))},
                "events": {"broadcast": False},
            }
        )
    )
    (here / "janus.transport.http.jcfg").write_text(
        _jcfg(
            {
                "general": {"json": "compact", "base_path": "/janus", "http": True, "port": port, "ip": "127.0.0.1"},
                "admin": {"admin_http": False, "admin_https": False},
            }
        )
    )
    (here / "janus.plugin.videoroom.jcfg").write_text(_jcfg({"general": {"admin_key": admin_key}}))
    process = start_janus(here, port)
    try:
        yield Janus(f"http://127.0.0.1:{port}/janus", admin_key, address), process
    finally:
        stop(process)


def start_janus(here: Path, port: int) -> subprocess.Popen[bytes]:
    """Janus with the configuration `janus_server` wrote in `here` (again, after it was killed)."""
    binary = _executable("janus", "janus")
    return start([binary, "-C", str(here / "janus.jcfg"), "-F", str(here)], port, here / "stdout.log")
