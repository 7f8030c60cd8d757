"""What the two media servers share (the embedded relay, sfu.py, and Janus, janus_rooms.py): the
server hears the broker's media channel (channel.py) and hands each meeting's requests to that
meeting's room; a room does its work one message at a time on a task of its own, so a slow room does
not hold up the others and a participant's messages are handled in the order they were sent. A room
goes when nobody is left in it, or when its meeting is cancelled (channel.CLOSE); at stop, every room
closes and its last attendance rows are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sip_service.kit.db import Database
from sip_service.kit.outage import BrokerUnavailable
from sip_service.kit.pubsub import Broker, Message
from sip_service.meetings import lobby
from sip_service.video import channel

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]


class MediaRoom(ABC):
    """One meeting on a media server, and the one task that changes it."""

    def __init__(self, server: RoomServer[Any], meeting_id: uuid.UUID) -> None:
        self.server, self.meeting_id = server, meeting_id
        self._inbox: asyncio.Queue[Work] = asyncio.Queue()
        self._task = asyncio.create_task(self._work(), name=f"{server.name}-room-{meeting_id}")
        self.done = False

    def post(self, work: Work) -> None:
        if not self.done:
            self._inbox.put_nowait(work)

    async def _work(self) -> None:
        while True:
            work = await self._inbox.get()
            try:
                await work()
            except Exception:  # one participant's trouble is not the room's
                log.exception("%s: meeting %s", self.server.name, self.meeting_id)
            if self.empty and self._inbox.empty():  # nobody left: the room goes
                self.done = True
                if self.server.rooms.get(self.meeting_id) is self:
                    del self.server.rooms[self.meeting_id]
                await self.gone()
                return

    async def close(self) -> set[asyncio.Task[None]]:
        """Everyone out; returns the attendance writes still under way."""
        self.done = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return await self.closing()

    @property
    @abstractmethod
    def empty(self) -> bool:
        """Nobody is connected any more."""

    @property
    @abstractmethod
    def participant_count(self) -> int:
        """How many are connected now (for /metrics)."""

    async def gone(self) -> None:  # noqa: B027 (a hook: most servers have nothing to clean up)
        """After the last one left (and nothing more came): what the server must clean up."""

    @abstractmethod
    async def closing(self) -> set[asyncio.Task[None]]:
        """Close every participant's media; the attendance writes still under way."""

    # The requests of the media channel, each as the room's own work (post).
    @abstractmethod
    async def connect(self, message: Message) -> None: ...

    async def offer(self, message: Message) -> None:
        """A participant's offer: only a server that takes offers answers it (Janus)."""
        log.warning("%s: an offer for meeting %s, which it does not take", self.server.name, self.meeting_id)

    @abstractmethod
    async def answer(self, message: Message) -> None: ...

    @abstractmethod
    async def candidate(self, message: Message) -> None: ...

    @abstractmethod
    async def left(self, participant_id: str) -> None: ...


R = TypeVar("R", bound=MediaRoom)


class RoomServer(ABC, Generic[R]):
    """Every meeting of this process (or of the `sip-service media` worker) on one media server."""

    name = "media server"  # in its log lines and its tasks' names
    RESUBSCRIBE_S = (0.2, 5.0)  # the first and the longest pause before subscribing again to Redis

    def __init__(self, db: Database, broker: Broker) -> None:
        self.db, self.broker = db, broker
        self.rooms: dict[uuid.UUID, R] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()  # rooms of cancelled meetings, closing

    @property
    def traffic(self) -> Any:
        """The media's bytes through this server (video.media.Traffic), where it counts them (the
        embedded relay); None where it does not see the media (Janus)."""
        return None

    @property
    def room_sizes(self) -> list[int]:
        """Each room's participants now (for /metrics: rooms and participants of this process)."""
        return [room.participant_count for room in list(self.rooms.values())]

    @abstractmethod
    def new_room(self, meeting_id: uuid.UUID) -> R:
        """The room for a meeting whose first participant connects here."""

    def helpers(self) -> list[asyncio.Task[None]]:
        """Tasks of the server's own beside the channel's (started with it, stopped with it)."""
        return []

    async def start(self) -> None:
        tried = asyncio.Event()
        self._tasks = [asyncio.create_task(self._listen(tried), name=f"{self.name}-listen"), *self.helpers()]
        await tried.wait()  # a CONNECT published after start() is heard (unless Redis is down: later)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._closing:
            await asyncio.wait(self._closing, timeout=10)
        pending: set[asyncio.Task[None]] = set()
        for room in list(self.rooms.values()):
            pending |= await room.close()
        self.rooms.clear()
        await self.stopped()
        if pending:  # the last attendance rows close before the database goes
            await asyncio.wait(pending, timeout=5)

    async def _close(self, room: R) -> None:
        """A cancelled meeting's room: everyone's media closed, and their attendance rows."""
        log.info("%s: meeting %s cancelled; closing its room", self.name, room.meeting_id)
        try:
            pending = await room.close()
            if pending:
                await asyncio.wait(pending, timeout=5)
        except Exception:
            log.exception("%s: could not close the room of meeting %s", self.name, room.meeting_id)

    async def stopped(self) -> None:
        """After every room closed: what else the server lets go of."""

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def _listen(self, tried: asyncio.Event) -> None:
        """The media channel, subscribed again after Redis was away (what came meanwhile is lost:
        connectMedia answers 503 then, and the pages connect again)."""
        pause = self.RESUBSCRIBE_S[0]
        while True:
            try:
                async with self.broker.subscribe(channel.MEDIA_CHANNEL) as messages:
                    tried.set()
                    pause = self.RESUBSCRIBE_S[0]
                    async for message in messages:
                        try:
                            self._dispatch(message)
                        except Exception:
                            log.exception("%s: could not handle %s", self.name, message.get("kind"))
                return  # the broker closed
            except BrokerUnavailable:  # logged once per outage by the broker
                tried.set()
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.RESUBSCRIBE_S[1])

    def _dispatch(self, message: Message) -> None:
        meeting_id, kind = uuid.UUID(str(message["meeting"])), message["kind"]
        room = self.rooms.get(meeting_id)
        if kind == channel.CLOSE:
            if room is not None:  # out of the rooms at once: a CONNECT from now on makes a new one
                del self.rooms[meeting_id]
                task = asyncio.create_task(self._close(room), name=f"{self.name}-close-{meeting_id}")
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        elif kind == channel.CONNECT:
            if room is None:
                room = self.rooms[meeting_id] = self.new_room(meeting_id)
            room.post(lambda: room.connect(message))
        elif room is None:
            return  # nobody of this meeting is connected here
        elif kind == lobby.EventKind.OFFER:
            room.post(lambda: room.offer(message))
        elif kind == lobby.EventKind.ANSWER:
            room.post(lambda: room.answer(message))
        elif kind == lobby.EventKind.ICE_CANDIDATE:
            room.post(lambda: room.candidate(message))
        elif kind in (lobby.EventKind.LEFT, lobby.EventKind.REMOVED):
            who = lobby.subject(message)
            if who is not None:
                room.post(lambda: room.left(who))
