"""A client of Janus Gateway's HTTP API (the REST transport) and its VideoRoom plugin: only what the
service needs to run meetings on Janus (janus_rooms.py), nothing of Janus's own JavaScript library.

One `Session` per Janus instance; on it, `Handle`s attached to the VideoRoom plugin. A request goes
as one POST; Janus answers synchronous plugin requests (create, destroy, allowed, kick, exists,
listparticipants) in the response, and asynchronous ones (join, publish, start, subscribe, leave)
with an "ack" and, later, an event carrying the same transaction. Events come through one long poll
per session (GET, up to `maxev` at a time, a keepalive after 30 s of nothing), which also keeps the
session alive. Events that answer no request of ours (someone published, media started or stopped,
the PeerConnection went up or down) go to the handle's `on_event`.

Janus's API must listen only on loopback or a private network: whoever reaches it can attach
handles; the rooms' secrets, PINs and allowed lists are what keeps them out of a meeting's room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import httpx

log = logging.getLogger(__name__)

VIDEOROOM = "janus.plugin.videoroom"
REQUEST_TIMEOUT_S = 10.0
POLL_S = 35.0  # Janus answers a long poll with a keepalive after 30 s
UNAUTHORIZED = 433  # JANUS_VIDEOROOM_ERROR_UNAUTHORIZED: a wrong PIN, a token not allowed, no private_id
NO_SUCH_ROOM = 426
NO_SUCH_FEED = 428

Json = dict[str, Any]


class JanusError(Exception):
    """Janus or its VideoRoom plugin refused a request."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code, self.reason = code, reason


async def info(http: httpx.AsyncClient, url: str, within_s: float) -> Json:
    """Janus's `info` (GET <url>/info, no session): whether the instance's API answers, for /readyz."""
    response = await http.get(f"{url.rstrip('/')}/info", timeout=within_s)
    response.raise_for_status()
    answer: Json = response.json()
    if answer.get("janus") != "server_info":
        raise JanusError(0, f"not Janus's info: {answer.get('janus')!r}")
    return answer


def _transaction() -> str:
    return secrets.token_urlsafe(12)


def _plugin_data(answer: Json) -> Json:
    """The plugin's part of a response or event; an error of Janus's or of the plugin's raises."""
    if answer.get("janus") == "error":
        error = answer.get("error") or {}
        raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
    data: Json = (answer.get("plugindata") or {}).get("data") or {}
    if "error_code" in data:
        raise JanusError(int(data["error_code"]), str(data.get("error", "")))
    return data


class Session:
    """One Janus session: its handles and the long poll that brings their events."""

    def __init__(self, http: httpx.AsyncClient, url: str, session_id: int) -> None:
        self.http, self.url, self.id = http, url.rstrip("/"), session_id
        self.handles: dict[int, Handle] = {}
        self._waiting: dict[str, asyncio.Future[Json]] = {}
        self._poll: asyncio.Task[None] | None = None
        self.lost: asyncio.Event = asyncio.Event()  # the session is gone (Janus restarted, or unreachable)

    @classmethod
    async def create(cls, url: str) -> Session:
        http = httpx.AsyncClient(timeout=httpx.Timeout(REQUEST_TIMEOUT_S, read=POLL_S))
        try:
            answer = (await http.post(url, json={"janus": "create", "transaction": _transaction()})).json()
            _plugin_data(answer)
        except BaseException:
            await http.aclose()
            raise
        session = cls(http, url, int(answer["data"]["id"]))
        session._poll = asyncio.create_task(session._long_poll(), name=f"janus-poll-{session.id}")
        return session

    async def post(self, path: str, body: Json) -> Json:
        response = await self.http.post(f"{self.url}{path}", json=body)
        answer: Json = response.json()
        return answer

    async def attach(self, on_event: Callable[[Json], None] | None = None) -> Handle:
        answer = await self.post(f"/{self.id}", {"janus": "attach", "plugin": VIDEOROOM, "transaction": _transaction()})
        _plugin_data(answer)
        handle = Handle(self, int(answer["data"]["id"]), on_event)
        self.handles[handle.id] = handle
        return handle

    async def _long_poll(self) -> None:
        failures = 0
        while True:
            try:
                response = await self.http.get(f"{self.url}/{self.id}", params={"maxev": 10, "rid": _transaction()})
                answer = response.json()
                failures = 0
            except (httpx.HTTPError, ValueError) as exc:
                failures += 1
                if failures >= 3:
                    log.warning("janus: session %s lost (%s)", self.id, exc)
                    break
                await asyncio.sleep(0.5)
                continue
            if isinstance(answer, dict) and answer.get("janus") == "error":  # no such session (Janus restarted)
                log.warning("janus: session %s lost (%s)", self.id, answer.get("error"))
                break
            for event in answer if isinstance(answer, list) else [answer]:
                self._deliver(event)
        self.lost.set()
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(JanusError(0, "the Janus session was lost"))

    def _deliver(self, event: Json) -> None:
        kind = event.get("janus")
        if kind in ("keepalive", "ack"):
            return
        waiting = self._waiting.pop(str(event.get("transaction")), None) if kind == "event" else None
        if waiting is not None and not waiting.done():
            waiting.set_result(event)
            return
        handle = self.handles.get(int(event.get("sender") or 0))
        if handle is not None and handle.on_event is not None:
            try:
                handle.on_event(event)
            except Exception:
                log.exception("janus: handling %s", kind)
        if kind == "detached" and handle is not None:
            self.handles.pop(handle.id, None)

    async def destroy(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
        with contextlib.suppress(httpx.HTTPError, ValueError):
            await self.post(f"/{self.id}", {"janus": "destroy", "transaction": _transaction()})
        await self.http.aclose()


class Handle:
    """One handle on the VideoRoom plugin: a control handle, or a participant's publisher or subscriber."""

    def __init__(self, session: Session, handle_id: int, on_event: Callable[[Json], None] | None) -> None:
        self.session, self.id, self.on_event = session, handle_id, on_event

    @property
    def _path(self) -> str:
        return f"/{self.session.id}/{self.id}"

    async def request(self, body: Json) -> Json:
        """A synchronous request: the plugin's answer."""
        answer = await self.session.post(self._path, {"janus": "message", "body": body, "transaction": _transaction()})
        return _plugin_data(answer)

    async def send(self, body: Json, jsep: Json | None = None) -> tuple[Json, Json | None]:
        """An asynchronous request: the event that answers it (the plugin's part), and its JSEP if any."""
        transaction = _transaction()
        waiting = self.session._waiting[transaction] = asyncio.get_running_loop().create_future()
        message: Json = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            message["jsep"] = jsep
        try:
            answer = await self.session.post(self._path, message)
            if answer.get("janus") != "ack":  # refused at once (an error), or answered in the response
                return _plugin_data(answer), answer.get("jsep")
            event = await asyncio.wait_for(waiting, REQUEST_TIMEOUT_S)
        finally:
            self.session._waiting.pop(transaction, None)
        return _plugin_data(event), event.get("jsep")

    async def trickle(self, candidate: Json | None) -> None:
        """A browser's ICE candidate (None: it has no more)."""
        body: Json = {"janus": "trickle", "transaction": _transaction()}
        body |= {"candidate": candidate} if candidate is not None else {"candidate": {"completed": True}}
        _plugin_data(await self.session.post(self._path, body))

    async def detach(self) -> None:
        self.session.handles.pop(self.id, None)
        with contextlib.suppress(httpx.HTTPError, ValueError, JanusError):
            _plugin_data(await self.session.post(self._path, {"janus": "detach", "transaction": _transaction()}))


class VideoRoom:
    """One VideoRoom, as its owner sees it (through a control handle): created with a secret (to
    change or destroy it), a PIN (to join it) and an allowed list (the tokens that may join), which
    starts empty; private (not listed) and requiring subscribers to name a publisher of the room."""

    def __init__(self, control: Handle, room_id: int, secret: str, pin: str) -> None:
        self.control, self.id, self.secret, self.pin = control, room_id, secret, pin

    @classmethod
    async def create(cls, control: Handle, description: str, admin_key: str | None = None) -> VideoRoom:
        room = cls(control, secrets.randbelow(2**52) + 1, secrets.token_urlsafe(24), secrets.token_urlsafe(24))
        body: Json = {
            "request": "create",
            "room": room.id,
            "description": description,
            "secret": room.secret,
            "pin": room.pin,
            "allowed": [],
            "is_private": True,
            "require_pvtid": True,
            "permanent": False,
            "publishers": 64,
            "audiocodec": "opus",
            "videocodec": "vp8",
            "notify_joining": False,
        }
        if admin_key is not None:
            body["admin_key"] = admin_key
        await control.request(body)
        return room

    async def allow(self, *tokens: str) -> None:
        await self.control.request(
            {"request": "allowed", "room": self.id, "secret": self.secret, "action": "add", "allowed": list(tokens)}
        )

    async def disallow(self, *tokens: str) -> None:
        await self.control.request(
            {"request": "allowed", "room": self.id, "secret": self.secret, "action": "remove", "allowed": list(tokens)}
        )

    async def kick(self, feed: int) -> None:
        try:
            await self.control.request({"request": "kick", "room": self.id, "secret": self.secret, "id": feed})
        except JanusError as exc:
            if exc.code != NO_SUCH_FEED:  # gone already
                raise

    async def participants(self) -> list[Json]:
        data = await self.control.request({"request": "listparticipants", "room": self.id})
        found: list[Json] = data.get("participants") or []
        return found

    async def exists(self) -> bool:
        return bool((await self.control.request({"request": "exists", "room": self.id})).get("exists"))

    async def destroy(self) -> None:
        try:
            await self.control.request({"request": "destroy", "room": self.id, "secret": self.secret})
        except JanusError as exc:
            if exc.code != NO_SUCH_ROOM:
                raise
