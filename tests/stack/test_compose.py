"""compose.yaml, the production stack in one command, checked without a container engine (this
machine and CI have none): against the Compose Specification's JSON schema (vendored under
deploy/compose-spec/, its sha256 checked here), and for what the schema cannot know — every file it
names is in the repository, every secret and dependency it names is declared, migrations finish before
any API process starts, and no secret is committed; and the Janus image's configuration is run with
Debian's janus."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from conftest import REPO_ROOT, free_port
from media_servers import start, stop

SPEC = REPO_ROOT / "deploy" / "compose-spec"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_the_vendored_schema_is_the_pinned_one() -> None:
    manifest = json.loads((SPEC / "VENDOR.json").read_text(encoding="utf-8"))
    schema = SPEC / manifest["file"]
    assert hashlib.sha256(schema.read_bytes()).hexdigest() == manifest["sha256"]
    assert (SPEC / "LICENSE").exists()


def test_compose_file_is_valid_against_the_compose_spec(compose: dict[str, Any]) -> None:
    schema = json.loads((SPEC / "compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
    # and the schema does refuse a broken file (a misspelt key), so the check above means something
    broken = {**compose, "services": {**compose["services"], "redis": {**compose["services"]["redis"], "imgae": "x"}}}
    assert any(validator.iter_errors(broken))


def test_the_stack_has_every_part(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "api-1", "api-2", "proxy", "janus", "coturn", "smtp", "keycloak"} <= set(
        services
    )
    for api in ("api-1", "api-2"):
        s = services[api]
        assert s["build"] == "." and s["command"][:2] == ["sip-service", "serve"]
        assert s["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert s["environment"]["SIP_ENV"] == "production"
        assert s["environment"]["SIP_MEDIA_BACKEND"] == "janus" and "janus:8088" in s["environment"]["SIP_JANUS_URLS"]
        # the service's role only: the owner's URL goes to `migrate` alone
        assert [f["path"] for f in s["env_file"]] == ["deploy/sip.env"]
        assert "SIP_AUDIT_CHECKPOINT_FILE" in s["environment"]
    assert services["migrate"]["command"] == ["sip-service", "migrate"]
    assert [f["path"] for f in services["migrate"]["env_file"]] == ["deploy/sip.env", "deploy/migrate.env"]
    assert "SIP_MIGRATION_DATABASE_URL" in (REPO_ROOT / "deploy" / "migrate.env.example").read_text(encoding="utf-8")
    assert "postgresql+asyncpg://sip_app:" in (REPO_ROOT / "deploy" / "sip.env.example").read_text(encoding="utf-8")
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # the proxy spreads over both API processes
    template = (REPO_ROOT / "deploy" / "nginx" / "sip.conf.template").read_text(encoding="utf-8")
    assert "server api-1:8000" in template and "server api-2:8000" in template
    assert "proxy_next_upstream error" in template and "$http_upgrade" in template


def test_every_name_it_uses_is_declared_and_every_file_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, s in services.items():
        for needed in s.get("depends_on", {}):
            assert needed in services, f"{name} depends on an unknown {needed}"
        for secret in s.get("secrets", []):
            assert secret in compose["secrets"], f"{name} uses an undeclared secret {secret}"
        for volume in s.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in compose["volumes"], f"{name} uses an undeclared volume {source}"
        if isinstance(build := s.get("build"), str):
            assert (REPO_ROOT / build / "Dockerfile").exists(), f"{name} builds {build}, which has no Dockerfile"
        for env_file in s.get("env_file", []):
            path = Path(env_file["path"])
            # the file itself holds secrets (never committed); its example shows what goes in it
            assert (REPO_ROOT / path.with_name(path.name + ".example")).exists(), path


def test_no_secret_is_committed(compose: dict[str, Any]) -> None:
    files = [Path(s["file"]) for s in compose["secrets"].values()]
    files += [Path(f["path"]) for s in compose["services"].values() for f in s.get("env_file", [])]
    git = shutil.which("git") or "/usr/bin/git"
    tracked = subprocess.run([git, "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    for path in files:
        assert str(path) not in tracked.splitlines(), f"{path} is committed"
        ignored = subprocess.run([git, "check-ignore", "-q", str(path)], cwd=REPO_ROOT, check=False)
        assert ignored.returncode == 0, f"{path} is not in .gitignore"
    # the examples hold placeholders, not values
    for example in (REPO_ROOT / "deploy").glob("*.env.example"):
        for line in example.read_text(encoding="utf-8").splitlines():
            if re.match(r"^[A-Z_]*(SECRET|PASSWORD|KEY)=", line):
                assert "CHANGE-ME" in line, f"{example.name}: {line}"
    realm = json.loads((REPO_ROOT / "deploy" / "keycloak" / "sip-realm.json").read_text(encoding="utf-8"))
    assert realm["clients"][0]["secret"] == "${SIP_OIDC_CLIENT_SECRET}"  # from the environment at import
    assert all("credentials" not in user for user in realm["users"])


def test_the_realm_has_the_demo_identities_with_the_claims_the_service_reads() -> None:
    realm = json.loads((REPO_ROOT / "deploy" / "keycloak" / "sip-realm.json").read_text(encoding="utf-8"))
    demo = json.loads((REPO_ROOT / "auth" / "demo-identities.json").read_text(encoding="utf-8"))
    users = {u["id"]: u for u in realm["users"]}
    for s in demo["staff"]:
        assert users[s["sub"]]["attributes"]["hsa_id"] == [s["hsa_id"]]
        assert users[s["sub"]]["attributes"]["organisation_hsa_id"] == [s["organisation_hsa_id"]]
    for c in demo["citizens"]:
        assert users[c["sub"]]["attributes"]["personal_number"] == [c["personal_number"]]
    mappers = {m["config"].get("claim.name") for m in realm["clientScopes"][0]["protocolMappers"]}
    assert {"hsa_id", "organisation_hsa_id", "personal_number", "sip_roles"} <= mappers
    client = realm["clients"][0]
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert (
        client["attributes"]["access.token.header.type.rfc9068"] == "true"
    )  # typ at+jwt (SIP_OIDC_ACCESS_TOKEN_TYPES)


def test_the_janus_image_configuration_runs_debians_janus(tmp_path: Path) -> None:
    """deploy/janus/'s configuration, with Debian's janus (as its Dockerfile installs it): only the
    VideoRoom plugin and the HTTP API come up (on a free loopback port here instead of 8088)."""
    for name in ("janus.jcfg", "janus.transport.http.jcfg"):
        shutil.copy(REPO_ROOT / "deploy" / "janus" / name, tmp_path / name)
    port = free_port()
    http_cfg = tmp_path / "janus.transport.http.jcfg"
    http_cfg.write_text(http_cfg.read_text().replace("port = 8088", f'port = {port}\n\tip = "127.0.0.1"'))
    (tmp_path / "janus.plugin.videoroom.jcfg").write_text('general: {\n\tadmin_key = "test"\n}\n')
    janus = shutil.which("janus") or "/usr/bin/janus"
    process = start([janus, "-C", str(tmp_path / "janus.jcfg"), "-F", str(tmp_path)], port, tmp_path / "janus.log")
    try:
        info = httpx.post(f"http://127.0.0.1:{port}/janus", json={"janus": "info", "transaction": "t"}, timeout=10)
        body = info.json()
        assert body["janus"] == "server_info", body
        assert list(body["plugins"]) == ["janus.plugin.videoroom"] and list(body["transports"]) == [
            "janus.transport.http"
        ]
    finally:
        stop(process)
