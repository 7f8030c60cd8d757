"""The media server the settings choose (SIP_MEDIA_BACKEND): the relay embedded in the service (sfu.py,
with aiortc) or Janus (janus_rooms.py). Each listens on the media channel for the meetings' requests;
each is imported only where it runs."""

from __future__ import annotations

from typing import Any, Protocol

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
