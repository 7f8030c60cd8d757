"""Publish/subscribe of small JSON messages on named channels (one per meeting).

In this process by default; over Redis when SIP_REDIS_URL is set, so that every service process
serves the same meeting's events. Delivery is at most once: a subscriber sees what is published
while it is subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as redis

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

    async def close(self) -> None:
        self._queues.clear()


class RedisBroker:
    def __init__(self, url: str) -> None:
        self._redis = redis.from_url(url)

    async def publish(self, channel: str, message: Message) -> None:
        await self._redis.publish(channel, _encode(message))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Message]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)  # confirmed by Redis before anything is published to us

        async def messages() -> AsyncIterator[Message]:
            async for item in pubsub.listen():
                if item.get("type") == "message":
                    yield json.loads(item["data"])

        try:
            yield messages()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(channel)
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def subscribers(self, channel: str) -> int:
        counts = await self._redis.pubsub_numsub(channel)
        return sum(int(n) for _, n in counts)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def broker_for(redis_url: str | None) -> Broker:
    return RedisBroker(redis_url) if redis_url else InProcessBroker()
