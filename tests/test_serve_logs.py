"""`sip-service serve` writing JSON log lines (SIP_LOG_FORMAT=json, production's default), each with
its request's id: the X-Request-ID a trusted proxy sent, or one the service made, the same as the
answer's header; a websocket's lines carry its own (issue 16, observability)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import free_port
from helpers import WAIT_S, until, within

START_S = 60.0  # a new process imports, migrates and starts: slow on a busy machine


async def answers(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


def lines_of(log: Path) -> list[dict[str, Any]]:
    """Every line the server wrote, each parsed as JSON (a line that is not JSON fails the test)."""
    parsed = []
    for line in log.read_text().splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}\nthe whole log:\n{log.read_text()}")
    return parsed


async def test_serve_writes_json_lines_with_the_request_id(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SIP_PUBLIC_URL"} | {
        "SIP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sip.sqlite3'}",
        "SIP_DEV_OIDC_KEY_FILE": str(tmp_path / "key.json"),
        "SIP_NOTIFY_INTERVAL_S": "0",
        "SIP_MEDIA_IN_PROCESS": "false",
        "SIP_LOG_FORMAT": "json",
        "SIP_TRUSTED_PROXIES": '["127.0.0.1"]',  # the test plays the proxy
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:  # a file, not a pipe nobody reads: the server never blocks on its log
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from sip_service.cli import app; app()", "serve", "--port", str(port), env=env,
            stderr=stderr,
        )  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_S
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=WAIT_S) as http:
            while not await answers(http):
                if server.returncode is not None or loop.time() > deadline:
                    pytest.fail(f"serve did not answer within {START_S:g} s; its log:\n{log.read_text()}")
                await asyncio.sleep(0.1)
            # From the proxy, with its id: kept. Without one: made here.
            traced = await http.get("/readyz", headers={"X-Request-ID": "edge-4711-abc"})
            assert traced.headers["x-request-id"] == "edge-4711-abc"
            unsigned = await http.post("/graphql", json={"query": "{ me { name } }"})
            assert unsigned.status_code == 401
            made = unsigned.headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", made)
            refused = await http.get("/metrics", headers={"X-Request-ID": "bad id with spaces"})
            assert refused.status_code == 200 and refused.headers["x-request-id"] != "bad id with spaces"
            # A websocket: its id in the handshake's answer, and on its lines.
            async with connect(
                f"ws://127.0.0.1:{port}/graphql",
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                additional_headers={"X-Request-ID": "ws-edge-42"},
                open_timeout=WAIT_S,
            ) as ws:
                assert ws.response is not None and ws.response.headers["x-request-id"] == "ws-edge-42"
                await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nonsense"}}))
                with pytest.raises(ConnectionClosed):
                    await within(ws.recv(), "the refused websocket closed")

            async def logged(request_id: str, what: str) -> list[dict[str, Any]]:
                mine: list[dict[str, Any]] = []

                async def found() -> bool:
                    mine[:] = [line for line in lines_of(log) if line.get("request_id") == request_id]
                    return bool(mine)

                await until(found, what)
                return mine

            for request_id, path in (
                ("edge-4711-abc", "/readyz"),
                (made, "/graphql"),
                (refused.headers["x-request-id"], "/metrics"),
            ):
                mine = await logged(request_id, f"the log line of {path}")
                access = [line for line in mine if line["logger"] == "uvicorn.access"]
                assert [(a["path"], a["method"]) for a in access] == [(path, "GET" if path != "/graphql" else "POST")]
                assert access[0]["status"] == (401 if path == "/graphql" else 200)
            websocket = await logged("ws-edge-42", "the websocket's log lines")
            assert any("WebSocket /graphql" in line["message"] for line in websocket), websocket
    finally:
        if server.returncode is None:
            server.terminate()
        await asyncio.wait_for(server.wait(), WAIT_S)
    every = lines_of(log)
    assert every and all({"time", "level", "logger", "message"} <= line.keys() for line in every), every
    # Startup and shutdown lines belong to no request and say so by having no id.
    assert any(line["logger"].startswith("uvicorn") and "request_id" not in line for line in every)
