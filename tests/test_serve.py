"""`sip-service serve` as people run it: a process that migrates, serves on the port it is given
(sign-in included, with no other settings), and holds websockets to the same size limit as requests."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import free_port
from helpers import WAIT_S, within

# A new process imports the service, migrates a new database and starts: on a busy machine that is
# the slowest step of this test, so it gets longer than WAIT_S.
START_S = 60.0


async def answers(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def test_serve_migrates_serves_signs_in_on_its_port_and_caps_websocket_messages(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SIP_PUBLIC_URL"} | {
        "SIP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sip.sqlite3'}",
        "SIP_DEV_OIDC_KEY_FILE": str(tmp_path / "key.json"),
        "SIP_MAX_BODY_BYTES": str(64 * 1024),
        "SIP_NOTIFY_INTERVAL_S": "0",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:  # a file, not a pipe nobody reads: the server never blocks on its log
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from sip_service.cli import app; app()",
            "serve",
            "--port",
            str(port),
            env=env,
            stderr=stderr,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_S
        async with httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
            while not await answers(http):
                if server.returncode is not None or loop.time() > deadline:
                    pytest.fail(
                        f"sip-service serve did not answer /healthz within {START_S:g} s "
                        f"(exit code {server.returncode}); its log:\n{log.read_text()}"
                    )
                await asyncio.sleep(0.1)
            # sign-in on this port, with no SIP_PUBLIC_URL: to the embedded provider on the same port
            login = await http.get("/auth/login")
            assert login.status_code == 302, login.text
            assert login.headers["location"].startswith(f"{url}/dev-oidc/authorize?"), login.headers["location"]
            assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fauth%2Fcallback" in login.headers["location"]
            assert (await http.get(login.headers["location"])).status_code == 200
        ws_url = url.replace("http", "ws") + "/graphql"
        async with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=WAIT_S) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"padding": "x" * 100 * 1024}}))
            with pytest.raises(ConnectionClosed) as closed:
                await within(ws.recv(), "the server to close the connection")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    finally:
        if server.returncode is None:
            server.terminate()
            try:
                await within(server.wait(), "sip-service serve to stop after SIGTERM")
            finally:
                if server.returncode is None:
                    server.kill()
                    await server.wait()
