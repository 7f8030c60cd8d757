"""The stack of compose.yaml as local processes from Debian's packages, run by honcho (deploy/local/Procfile).

    .venv/bin/python deploy/local/stack.py up var/stack     # prepare var/stack once, then run everything
    https://127.0.0.1:<PROXY_PORT>/   (the ports: var/stack/.env; the certificate: var/stack/tls.crt)

What runs: its own PostgreSQL cluster (initdb; as root, run as the postgres user), Redis, the OIDC
provider of the interop tests (panva/oidc-provider, tests/oidc_provider: a separate, certified
provider, with the demo identities; `npm ci` there first), aiosmtpd catching e-mail into a maildir,
coturn, the media relay as its own process (`sip-service media`, aiortc), two API processes (the first
runs the migrations before it serves, as the schema's owner, sip_owner; they serve as sip_app, which
may only add to the audit trail, and write signed audit checkpoints to audit-checkpoints.jsonl; each is
restarted when it dies, as a process manager would) and nginx in front with a self-signed
certificate, spreading requests over the two and upgrading websockets.
Every port is a free one, chosen when the folder is prepared. The service runs in production mode.

Subcommands used by the Procfile: `database` (wait for PostgreSQL, create the database), `wait-file PATH`
(the migrations are done: api1 writes it), `wait-http URL`,
`supervise PIDFILE -- COMMAND…`. tests/stack/test_local_stack.py brings it up, uses it, and kills an API.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROCFILE = HERE / "Procfile"
WAIT_S = 60.0
OIDC_CLIENT_ID, OIDC_AUDIENCE = "sip-service", "sip-api"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        sys.exit("PostgreSQL is not installed: apt-get install -y postgresql")
    return found[-1].parent


def _need(*commands: str) -> None:
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: bash tests/prerequisites.sh installs them")


def prepare(folder: Path) -> Path:
    """Write folder/.env (ports, secrets, settings), the certificate, nginx's and coturn's
    configuration, and a new PostgreSQL cluster. Returns the .env file."""
    _need("openssl", "redis-server", "turnserver", "node")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"  # /usr/sbin: not on everyone's PATH
    if not Path(nginx).exists():
        sys.exit("missing nginx: bash tests/prerequisites.sh installs it")
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    ports = {
        name: free_port()
        for name in ("PG_PORT", "REDIS_PORT", "OIDC_PORT", "SMTP_PORT", "TURN_PORT", "API1_PORT", "API2_PORT")
    }
    ports["PROXY_PORT"] = free_port()
    public = f"https://127.0.0.1:{ports['PROXY_PORT']}"
    issuer = f"http://127.0.0.1:{ports['OIDC_PORT']}"

    # PostgreSQL refuses to run as root: then its cluster belongs to the postgres user, in a folder
    # of its own (the stack's folder may be one the postgres user cannot enter).
    as_root = os.geteuid() == 0
    pg_dir = Path(tempfile.mkdtemp(prefix="sip-stack-pg-")) if as_root else folder / "pg"
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(pg_dir, "postgres", "postgres")
    pg_bin = _postgres_bin()
    subprocess.run(
        [*run_as, str(pg_bin / "initdb"), "-D", str(pg_dir / "data"), "-U", "sip_owner", "-A", "trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
    )

    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "7",
            "-keyout",
            str(folder / "tls.key"),
            "-out",
            str(folder / "tls.crt"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    os.chmod(folder / "tls.key", 0o600)

    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "nginx" / temp).mkdir(parents=True, exist_ok=True)
    template = Template((HERE / "nginx.conf.template").read_text(encoding="utf-8"))
    (folder / "nginx.conf").write_text(template.substitute(ports, STACK_DIR=str(folder)), encoding="utf-8")

    from sip_service.audit.checkpoints import generate_key  # the venv's package, as `sip-service audit keygen`

    checkpoint_key, _public = generate_key()
    turn_secret = secrets.token_urlsafe(32)
    relay_from = 40_000 + ports["TURN_PORT"] % 20_000
    (folder / "turnserver.conf").write_text(
        "\n".join(
            [
                f"listening-port={ports['TURN_PORT']}",
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"min-port={relay_from}",
                f"max-port={relay_from + 99}",
                "realm=sip.local",
                "use-auth-secret",
                f"static-auth-secret={turn_secret}",
                "allow-loopback-peers",  # the media relay listens on loopback here
                "no-tls",
                "no-dtls",
                "no-tcp-relay",
                "no-cli",
                "no-rfc5780",
                "simple-log",
                f"log-file={folder / 'turnserver.log'}",
                f"pidfile={folder / 'turnserver.pid'}",
                "",
            ]
        ),
        encoding="utf-8",
    )

    env = {
        **{k: str(v) for k, v in ports.items()},
        "STACK_DIR": str(folder),
        "REPO_DIR": str(REPO),
        "PYTHON": sys.executable,
        "VENV_BIN": str(Path(sys.executable).parent),
        "PG_BIN": str(pg_bin),
        "PG_DIR": str(pg_dir),
        "PG_RUN": " ".join(run_as),
        "NGINX": nginx,
        # the OIDC provider (tests/oidc_provider/server.mjs; it listens on OIDC_PORT)
        "REDIRECT_URI": f"{public}/auth/callback",
        "CLIENT_ID": OIDC_CLIENT_ID,
        "CLIENT_SECRET": secrets.token_urlsafe(32),
        "AUDIENCE": OIDC_AUDIENCE,
        "DEMO_IDENTITIES": str(REPO / "auth" / "demo-identities.json"),
        # the service, as every API process and the media relay see it
        "SIP_ENV": "production",
        "SIP_PUBLIC_URL": public,
        # the service's own role, which may only add to the audit trail; the migrations run as
        # sip_owner (the Procfile's api1 gives SIP_MIGRATION_DATABASE_URL to `migrate` alone)
        "SIP_DATABASE_URL": f"postgresql+asyncpg://sip_app@127.0.0.1:{ports['PG_PORT']}/sip",
        "SIP_AUDIT_CHECKPOINT_FILE": str(folder / "audit-checkpoints.jsonl"),
        "SIP_AUDIT_CHECKPOINT_KEY": checkpoint_key,
        "SIP_AUDIT_CHECKPOINT_INTERVAL_S": "5",
        "SIP_REDIS_URL": f"redis://127.0.0.1:{ports['REDIS_PORT']}/0",
        "SIP_SESSION_SECRET": secrets.token_urlsafe(48),
        "SIP_MEETING_TOKEN_SECRET": secrets.token_urlsafe(48),
        "SIP_OIDC_ISSUER": issuer,
        "SIP_OIDC_JWKS_URL": f"{issuer}/jwks",
        "SIP_OIDC_CLIENT_ID": OIDC_CLIENT_ID,
        "SIP_OIDC_AUDIENCE": OIDC_AUDIENCE,
        "SIP_OIDC_SCOPES": "openid profile sip api",
        "SIP_TRUSTED_PROXIES": '["127.0.0.1"]',
        "SIP_MEDIA_IN_PROCESS": "false",  # the media relay is a process of its own (`media` in the Procfile)
        "SIP_MEDIA_ADDRESSES": '["127.0.0.1"]',
        "SIP_ICE_SERVERS": f'["turn:127.0.0.1:{ports["TURN_PORT"]}?transport=udp"]',
        "SIP_TURN_SECRET": turn_secret,
        "SIP_SMTP_HOST": "127.0.0.1",
        "SIP_SMTP_PORT": str(ports["SMTP_PORT"]),
        "SIP_MAIL_FROM": "SIP-tjänsten <noreply@sip.local>",
        "PYTHONUNBUFFERED": "1",
    }
    env["SIP_OIDC_CLIENT_SECRET"] = env["CLIENT_SECRET"]
    dotenv = folder / ".env"
    dotenv.write_text("".join(f"{k}='{v}'\n" for k, v in env.items()), encoding="utf-8")
    os.chmod(dotenv, 0o600)
    return dotenv


def read_env(dotenv: Path) -> dict[str, str]:
    """The .env that `prepare` wrote (single-quoted values, as honcho reads them)."""
    out = {}
    for line in dotenv.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        out[key] = value[1:-1]
    return out


def _wait(check: Callable[[], bool], what: str, within: float = WAIT_S) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            sys.exit(f"waited {within:g} s for {what}")
        time.sleep(0.1)


def database() -> None:
    """Wait until PostgreSQL answers, then create the service's database (owned by sip_owner) and
    the service's role (sip_app), if they are not there."""
    port, pg_bin = os.environ["PG_PORT"], Path(os.environ["PG_BIN"])
    target = ["-h", "127.0.0.1", "-p", port, "-U", "sip_owner"]

    def ready() -> bool:
        return (
            subprocess.run([str(pg_bin / "pg_isready"), *target, "-d", "postgres", "-q"], check=False).returncode == 0
        )

    _wait(ready, f"PostgreSQL on port {port}")
    psql = [str(pg_bin / "psql"), *target, "-d", "postgres", "-tAc"]
    exists = subprocess.run([*psql, "SELECT 1 FROM pg_database WHERE datname = 'sip'"], capture_output=True, text=True)
    if exists.stdout.strip() != "1":
        subprocess.run([*psql, "CREATE DATABASE sip"], check=True, stdout=subprocess.DEVNULL)
    role = subprocess.run([*psql, "SELECT 1 FROM pg_roles WHERE rolname = 'sip_app'"], capture_output=True, text=True)
    if role.stdout.strip() != "1":
        subprocess.run([*psql, "CREATE ROLE sip_app LOGIN"], check=True, stdout=subprocess.DEVNULL)


def wait_file(path: Path) -> None:
    _wait(path.exists, f"{path} (written by another process of the stack)")


def wait_http(url: str) -> None:
    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (a loopback URL of ours)
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    _wait(answers, url)


def supervise(pidfile: Path, command: list[str]) -> None:
    """Run `command`, and again whenever it dies (after a second), as a process manager would; its
    pid is in `pidfile` (a test kills it there). SIGTERM/SIGINT stop it and this."""
    child: subprocess.Popen[bytes] | None = None
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        child = subprocess.Popen(command)
        pidfile.write_text(str(child.pid))
        code = child.wait()
        if not stopping:
            print(f"supervise: {command[0]} (pid {child.pid}) ended with {code}; starting it again", flush=True)
            time.sleep(1)
    sys.exit(0)


def main(argv: list[str]) -> None:
    match argv:
        case ["prepare", folder]:
            print(prepare(Path(folder)))
        case ["up", folder]:
            dotenv = Path(folder) / ".env"
            if not dotenv.exists():
                prepare(Path(folder))
            honcho = Path(sys.executable).parent / "honcho"
            os.execv(honcho, [str(honcho), "-f", str(PROCFILE), "-e", str(dotenv), "-d", str(REPO), "start"])
        case ["database"]:
            database()
        case ["wait-file", path]:
            wait_file(Path(path))
        case ["wait-http", url]:
            wait_http(url)
        case ["supervise", pidfile, "--", *command] if command:
            supervise(Path(pidfile), command)
        case _:
            sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
