"""`sip-service serve` as people run it: a process that migrates, serves, and holds websockets to
the same size limit as requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import free_port


async def test_serve_migrates_serves_and_caps_websocket_messages(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "SIP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sip.sqlite3'}",
        "SIP_DEV_OIDC_KEY_FILE": str(tmp_path / "key.json"),
        "SIP_MAX_BODY_BYTES": str(64 * 1024),
        "SIP_NOTIFY_INTERVAL_S": "0",
    }
    cli = [sys.executable, "-c", "from sip_service.cli import app; app()"]
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE)  # noqa: ASYNC220
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=url) as http:
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the server did not start")
                time.sleep(0.1)  # noqa: ASYNC251 (nothing else runs here)
        async with connect(url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"padding": "x" * 100 * 1024}}))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    finally:
        server.terminate()
        server.wait(15)
