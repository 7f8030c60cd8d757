"""Live plan pages: a subscription that tells when a plan someone has open was changed (by anyone),
so that the page reads it again. Access is checked at the start and again at every change: whoever
loses access to the plan (consent withdrawn, removed from it) stops hearing about it.

However many pages watch a plan, this process listens to the plan's channel once (`PlanFeed`) and,
at each change, asks once who of the watchers may still read the plan: one statement for all of
them (`plans.repository.readable_by`, the readable scope itself, for each distinct principal).
The change then goes to those who may, and the others' subscriptions end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import query_error
from sip_service.auth.principal import Principal
from sip_service.kit import clock, errors
from sip_service.kit.db import Database
from sip_service.kit.pubsub import QUEUE_LIMIT, Broker, Message
from sip_service.plans import events
from sip_service.plans import repository as plans_repo

logger = logging.getLogger(__name__)


@strawberry.type(name="PlanChange", description="The plan changed: read it again (PlanDetail).")
class PlanChangeType:
    plan_id: uuid.UUID
    version: int = strawberry.field(description="The plan's version after the change.")
    change: str = strawberry.field(description="Which operation changed it, e.g. addGoal.")


@dataclass(eq=False)
class _Watcher:
    principal: Principal
    changes: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # lost access (or the feed failed)
    error: BaseException | None = None


class PlanFeed:
    """One plan's channel, listened to once in this process for all who watch the plan here."""

    def __init__(self, hub: PlanFeeds, plan_id: uuid.UUID) -> None:
        self.hub, self.plan_id = hub, plan_id
        self.watchers: set[_Watcher] = set()
        self._listening = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._listen(), name=f"plan-feed-{plan_id}")

    async def listening(self) -> None:
        """Subscribed to the channel: every change committed from now on arrives."""
        waiting = asyncio.ensure_future(self._listening.wait())
        await asyncio.wait([waiting, self._task], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if not self._listening.is_set():
            await self._task  # raises why it could not subscribe
            raise RuntimeError("the plan feed stopped before it listened")

    async def _listen(self) -> None:
        try:
            async with self.hub.broker.subscribe(events.channel(self.plan_id)) as changes:
                self._listening.set()
                async for change in changes:
                    await self._tell(change)
        except Exception as exc:  # told to every watcher: their subscriptions end with an error
            logger.exception("the feed of plan %s failed", self.plan_id)
            for w in list(self.watchers):
                w.error = exc
                w.ended.set()
            raise

    async def _tell(self, change: Message) -> None:
        watchers = list(self.watchers)
        if not watchers:
            return
        principals = list(dict.fromkeys(w.principal for w in watchers))  # each distinct one once
        async with self.hub.db.read() as session:
            readable = await plans_repo.readable_by(session, principals, clock.today(), self.plan_id)
        may = {p for p, ok in zip(principals, readable, strict=True) if ok}
        for w in watchers:
            if w.principal in may:
                with contextlib.suppress(asyncio.QueueFull):  # a page that does not keep up misses some
                    w.changes.put_nowait(change)
            else:
                w.ended.set()

    @property
    def is_listening(self) -> bool:
        return self._listening.is_set() and not self._task.done()

    @property
    def stopped(self) -> bool:
        return self._task.done()

    def close(self) -> None:
        self._task.cancel()


class PlanFeeds:
    """This process's plan feeds, one per plan that someone watches, for one broker and database."""

    def __init__(self, broker: Broker, db: Database) -> None:
        self.broker, self.db = broker, db
        self._feeds: dict[uuid.UUID, PlanFeed] = {}

    def watching(self, plan_id: uuid.UUID) -> int:
        """How many pages here hear of the plan's changes now (what a test waits for)."""
        feed = self._feeds.get(plan_id)
        return len(feed.watchers) if feed is not None and feed.is_listening else 0

    @asynccontextmanager
    async def watch(self, principal: Principal, plan_id: uuid.UUID) -> AsyncIterator[_Watcher]:
        feed = self._feeds.get(plan_id)
        if feed is None or feed.stopped:
            feed = self._feeds[plan_id] = PlanFeed(self, plan_id)
        watcher = _Watcher(principal)
        feed.watchers.add(watcher)
        try:
            await feed.listening()
            yield watcher
        finally:
            feed.watchers.discard(watcher)
            if not feed.watchers and self._feeds.get(plan_id) is feed:
                del self._feeds[plan_id]
                feed.close()


_feeds: weakref.WeakKeyDictionary[Broker, PlanFeeds] = weakref.WeakKeyDictionary()


def feeds_for(broker: Broker, db: Database) -> PlanFeeds:
    feeds = _feeds.get(broker)
    if feeds is None or feeds.db is not db:
        feeds = _feeds[broker] = PlanFeeds(broker, db)
    return feeds


async def _next(watcher: _Watcher) -> Message | None:
    """The next change, or None once the watcher may no longer read the plan."""
    if watcher.ended.is_set():
        return None
    getting = asyncio.ensure_future(watcher.changes.get())
    ending = asyncio.ensure_future(watcher.ended.wait())
    try:
        await asyncio.wait([getting, ending], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for f in (getting, ending):
            f.cancel()
    if watcher.ended.is_set():
        return None
    return getting.result()


@strawberry.type
class PlanSubscription:
    @strawberry.subscription(description="Changes to a plan you can read, as they are committed.")
    async def plan_changes(self, info: Info[Context, None], plan_id: uuid.UUID) -> AsyncGenerator[PlanChangeType, None]:
        ctx = info.context
        async with feeds_for(ctx.live.broker, ctx.db).watch(ctx.principal, plan_id) as watcher:
            # after the feed listens: no change falls in between
            async with ctx.db.read() as session:
                if not await plans_repo.is_readable(session, ctx.principal, clock.today(), plan_id):
                    raise query_error(errors.NotFound("Plan", plan_id))
            while (e := await _next(watcher)) is not None:
                yield PlanChangeType(plan_id=plan_id, version=int(e["version"]), change=str(e["change"]))
            if watcher.error is not None:
                raise watcher.error
