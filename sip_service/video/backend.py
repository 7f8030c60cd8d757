"""The media server the settings choose (SIP_MEDIA_BACKEND): the relay embedded in the service (sfu.py,
with aiortc) or Janus (janus_rooms.py). Each listens on the media channel for the meetings' requests;
each is imported only where it runs."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx

from sip_service.kit.db import Database
from sip_service.kit.pubsub import Broker
from sip_service.settings import MediaBackend, Settings


class MediaServer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def run_forever(self) -> None: ...
    @property
    def room_sizes(self) -> list[int]: ...
    @property
    def traffic(self) -> Any: ...


def media_server(settings: Settings, db: Database, broker: Broker) -> MediaServer:
    if settings.media_backend is MediaBackend.JANUS:
        from sip_service.video.janus_rooms import JanusRelay

        return JanusRelay(settings, db, broker)
    from sip_service.video.sfu import Sfu  # aiortc loads only where the relay runs

    return Sfu(settings, db, broker)


JANUS_INFO_S = 1.0  # an instance that takes longer to say who it is counts as down


async def readiness(settings: Settings, http: httpx.AsyncClient) -> dict[str, str]:
    """/readyz's media checks. The relay in this process: `media` ok (it is up when the process is; a
    `sip-service media` worker is not this process's to answer for). Janus: each instance of
    SIP_JANUS_URLS, in their order (`janus1`, `janus2` …: which one is down, without its address), is
    asked for its `info` within a second; `media` is ok while one of them answers."""
    if settings.media_backend is not MediaBackend.JANUS:
        return {"media": "ok"} if settings.media_in_process else {}
    from sip_service.video.janus import info

    async def asked(url: str) -> str:
        try:
            await asyncio.wait_for(info(http, url, JANUS_INFO_S), JANUS_INFO_S + 0.5)
        except Exception as exc:
            return f"unavailable: {type(exc).__name__}"
        return "ok"

    answers = await asyncio.gather(*(asked(url) for url in settings.janus_urls))
    checks = {f"janus{i}": answer for i, answer in enumerate(answers, start=1)}
    return {"media": "ok" if "ok" in answers else "unavailable: no Janus answers"} | checks
