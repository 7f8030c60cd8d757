"""Publish/subscribe of small JSON messages on named channels (one per meeting).

In this process by default; over Redis when SIP_REDIS_URL is set, so that every service process
serves the same meeting's events. Delivery is at most once: a subscriber sees what is published
while it is subscribed.

Redis unreachable: every call raises `BrokerUnavailable` (from Redis's own error), a subscription's
messages end with it, and the broker's `outages` log it once per outage and its recovery (the first
call that succeeds again). `available()` is what an operation that needs live events asks first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as redis
from redis import exceptions as redis_errors

from sip_service.kit.outage import BrokerUnavailable, Outages

Message = dict[str, Any]
# A subscriber that does not keep up loses messages rather than holding memory without bound.
QUEUE_LIMIT = 1000


class Broker(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Message]]:
        """Subscribed once entered: what is published after that is delivered."""
        ...

    async def subscribers(self, channel: str) -> int:
        """How many subscriptions `channel` has now (over Redis: in every process). What a test
        waits for before it publishes, since a subscriber sees only what comes after it."""
        ...

    async def ping(self) -> None:
        """Whether the broker answers (for /readyz); raises if it does not."""
        ...

    async def available(self) -> None:
        """Raises `BrokerUnavailable` while the broker is known to be down and still does not
        answer; at once otherwise. Asked before a change that others must hear of."""
        ...

    @property
    def outages(self) -> Outages | None:
        """Its outages, if it can have any (Redis); what open websockets wait on."""
        ...

    async def close(self) -> None: ...


def _encode(message: Message) -> str:
    return json.dumps(message, separators=(",", ":"))


class InProcessBroker:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[str]]] = {}

    async def publish(self, channel: str, message: Message) -> None:
        data = _encode(message)  # the same JSON as over Redis: nobody shares a mutable dict
        for queue in list(self._queues.get(channel, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(data)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Message]]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_LIMIT)
        self._queues.setdefault(channel, set()).add(queue)

        async def messages() -> AsyncIterator[Message]:
            while True:
                yield json.loads(await queue.get())

        try:
            yield messages()
        finally:
            subscribers = self._queues.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._queues[channel]

    async def subscribers(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    async def ping(self) -> None:
        return None

    async def available(self) -> None:
        return None

    @property
    def outages(self) -> Outages | None:
        return None

    async def close(self) -> None:
        self._queues.clear()


class RedisBroker:
    # An unreachable host is found out in this time, rather than the operating system's minutes.
    CONNECT_TIMEOUT_S = 2.0

    def __init__(self, url: str) -> None:
        self._redis = redis.from_url(url, socket_connect_timeout=self.CONNECT_TIMEOUT_S)
        self._outages = Outages("Redis")

    @property
    def outages(self) -> Outages | None:
        return self._outages

    @asynccontextmanager
    async def _calling(self) -> AsyncIterator[None]:
        """Redis's connection errors become `BrokerUnavailable`, logged once per outage."""
        try:
            yield
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            self._outages.failed(exc)
            raise BrokerUnavailable(str(exc)) from exc
        self._outages.recovered()

    async def publish(self, channel: str, message: Message) -> None:
        async with self._calling():
            await self._redis.publish(channel, _encode(message))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Message]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            async with self._calling():
                await pubsub.subscribe(channel)  # confirmed by Redis before anything is published to us

            async def messages() -> AsyncIterator[Message]:
                listening = pubsub.listen()
                while True:
                    async with self._calling():  # Redis gone: the messages end with BrokerUnavailable
                        item = await anext(listening, None)
                    if item is None:
                        return
                    if item.get("type") == "message":
                        yield json.loads(item["data"])

            yield messages()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(channel)
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def subscribers(self, channel: str) -> int:
        async with self._calling():
            counts = await self._redis.pubsub_numsub(channel)
        return sum(int(n) for _, n in counts)

    async def ping(self) -> None:
        async with self._calling():
            await self._redis.ping()

    async def available(self) -> None:
        if self._outages.down:
            await self.ping()  # answers again: recovered, logged; or BrokerUnavailable

    async def close(self) -> None:
        await self._redis.aclose()


def broker_for(redis_url: str | None) -> Broker:
    return RedisBroker(redis_url) if redis_url else InProcessBroker()
