"""Attendance from the media path, whichever media server carries it (the embedded relay, sfu.py, or
Janus, janus_rooms.py): a participant attends while their media arrives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable
from datetime import datetime

from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.kit.outage import BrokerUnavailable
from sip_service.kit.pubsub import Broker
from sip_service.meetings import attendance
from sip_service.plans import events as plan_events
from sip_service.plans.events import PlanChange

log = logging.getLogger(__name__)


class MediaAttendance:
    """Whether a participant's media is arriving, written as attendance rows (opened on the first
    frame, closed when it stops). Writes run in order, in tasks of their own: frames never wait.
    Each write is told to the plan's open pages, as a change made through the API is."""

    def __init__(self, db: Database, broker: Broker, meeting_id: uuid.UUID, participant_id: uuid.UUID) -> None:
        self.db, self.broker, self.meeting_id, self.participant_id = db, broker, meeting_id, participant_id
        self.present, self.last_frame = False, 0.0
        self._row: uuid.UUID | None = None
        self._lock = asyncio.Lock()  # FIFO: the close waits for the open it follows
        self.tasks: set[asyncio.Task[None]] = set()

    def frame(self) -> None:
        self.last_frame = time.monotonic()
        if not self.present:
            self.present = True
            self._spawn(self._open(clock.now()))

    def stopped(self) -> None:
        if self.present:
            self.present = False
            self._spawn(self._close(clock.now()))

    def _spawn(self, work: Awaitable[None]) -> None:
        async def in_order() -> None:
            async with self._lock:
                try:
                    await work
                except Exception:  # the media goes on even if the database does not answer
                    log.exception("could not record attendance of %s", self.participant_id)

        task = asyncio.create_task(in_order())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _open(self, at: datetime) -> None:
        self._row, news = await attendance.media_arrived(self.db, self.meeting_id, self.participant_id, at)
        await self._tell(news)

    async def _close(self, at: datetime) -> None:
        row, self._row = self._row, None
        if row is not None and (news := await attendance.media_stopped(self.db, row, at)) is not None:
            await self._tell(news)

    async def _tell(self, news: PlanChange) -> None:
        with contextlib.suppress(BrokerUnavailable):  # recorded; the open pages hear of it again later
            await self.broker.publish(plan_events.channel(uuid.UUID(news["plan"])), news)
