"""ICE servers for a participant's browser: STUN/TURN addresses from configuration, and for TURN a
time-limited credential from the secret shared with the TURN server (coturn's `use-auth-secret`,
the "TURN REST API" scheme): username = "<expiry unix time>:<participant id>", credential =
base64(HMAC-SHA1(secret, username)). Nothing is stored; the TURN server checks it on its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

from sip_service.settings import Settings


@dataclass(frozen=True)
class IceServer:
    urls: list[str]
    username: str | None = None
    credential: str | None = None


def turn_credential(secret: bytes, participant_id: uuid.UUID, expires_at: datetime) -> tuple[str, str]:
    username = f"{int(expires_at.timestamp())}:{participant_id}"
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, participant_id: uuid.UUID, now: datetime) -> list[IceServer]:
    stun = [u for u in settings.ice_servers if u.startswith(("stun:", "stuns:"))]
    turn = [u for u in settings.ice_servers if u.startswith(("turn:", "turns:"))]
    servers = [IceServer(stun)] if stun else []
    if turn and settings.turn_secret is not None:
        username, credential = turn_credential(
            settings.turn_secret.get_secret_value().encode(),
            participant_id,
            now + settings.turn_credential_ttl,
        )
        servers.append(IceServer(turn, username, credential))
    return servers


def gather_on(addresses: list[str]) -> None:
    """Make the relay's ICE offer host candidates on exactly these addresses (settings.media_addresses).

    aioice finds host addresses by itself and leaves out 127.0.0.1, so on a machine (or in tests)
    where only loopback reaches the browsers the relay would offer nothing usable. aioice has no
    option for this; its one lookup is replaced here, process-wide (aiortc creates aioice connections
    deep inside RTCPeerConnection), and only when the setting is given."""
    import aioice.ice

    v4 = [a for a in addresses if ":" not in a]
    v6 = [a for a in addresses if ":" in a]

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return (v4 if use_ipv4 else []) + (v6 if use_ipv6 else [])

    aioice.ice.get_host_addresses = host_addresses
