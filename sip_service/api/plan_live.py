"""Live plan pages: a subscription that tells when a plan someone has open was changed (by anyone),
so that the page reads it again. Access is checked at the start and again at every change: whoever
loses access to the plan (consent withdrawn, removed from it) stops hearing about it.

However many pages watch a plan, this process listens to the plan's channel once (`PlanFeed`) and,
at each change, asks once who of the watchers may still read the plan: one statement for all of
them (`plans.repository.readable_by`, the readable scope itself, for each distinct principal).
The change then goes to those who may, and the others' subscriptions end.

The pages' own document (graphql/operations: PlanChanges) is served by `KnownPlanChanges` without
running strawberry for each page and change: the answer is encoded once per change and the same
bytes go to every page of the feed (tests/api/test_plan_changes.py holds both paths to the same
frames). Any other document, or anything unusual, takes strawberry's path, the reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

import orjson
import strawberry
from graphql import FieldNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, OperationType, parse
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    NextMessage,
    NextMessagePayload,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message as SocketMessage
from strawberry.types import Info

from sip_service.api import operations
from sip_service.api.context import Context
from sip_service.api.errors import query_error
from sip_service.auth.principal import Principal
from sip_service.kit import clock, errors
from sip_service.kit.db import Database
from sip_service.kit.outage import (
    BROKER_DOWN_REASON,
    DATABASE_DOWN_REASON,
    TRY_AGAIN_LATER,
    BrokerUnavailable,
    DatabaseUnavailable,
    Outages,
    is_broker_outage,
    is_outage,
)
from sip_service.kit.pubsub import QUEUE_LIMIT, Broker, Message
from sip_service.plans import events
from sip_service.plans import repository as plans_repo

logger = logging.getLogger(__name__)


@strawberry.type(name="PlanChange", description="The plan changed: read it again (PlanDetail).")
class PlanChangeType:
    plan_id: uuid.UUID
    version: int = strawberry.field(description="The plan's version after the change.")
    change: str = strawberry.field(description="Which operation changed it, e.g. addGoal.")


# The known document's selection: (response key, field) of the root, and of each field under it.
Selection = tuple[tuple[str, str], tuple[tuple[str, str], ...]]


@dataclass(eq=False)
class _Change:
    """One committed change, as every page of the feed is told it."""

    plan_id: uuid.UUID
    version: int
    change: str

    _encoded: dict[Selection, orjson.Fragment] = field(default_factory=dict, repr=False)

    def encoded(self, selection: Selection) -> orjson.Fragment:
        """`{"data": {...}}` for the known document's selection, encoded once for all its pages."""
        found = self._encoded.get(selection)
        if found is None:
            value = {"__typename": "PlanChange", "planId": str(self.plan_id), "version": self.version}
            value["change"] = self.change
            (key, _), fields = selection
            data = {key: {alias: value[name] for alias, name in fields}}
            found = self._encoded[selection] = orjson.Fragment(orjson.dumps({"data": data}))
        return found


@dataclass(eq=False)
class _Watcher:
    principal: Principal
    # the changes in order, then None: the end (lost access, or the feed failed: `error`)
    changes: asyncio.Queue[_Change | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    ended: bool = False
    error: BaseException | None = None

    def tell(self, change: _Change) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a page that does not keep up misses some
            self.changes.put_nowait(change)

    def end(self, error: BaseException | None = None) -> None:
        if self.ended:
            return
        self.ended, self.error = True, error
        if self.changes.full():  # the end always arrives, in place of the newest change
            self.changes.get_nowait()
        self.changes.put_nowait(None)

    async def next(self) -> _Change | None:
        """The next change, or None once the watcher may no longer read the plan."""
        change = await self.changes.get()
        if change is None:
            self.changes.put_nowait(None)  # and None again for any later call
        return change


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
            if not (is_outage(exc) or is_broker_outage(exc)):  # an outage: their sockets close (1013)
                logger.exception("the feed of plan %s failed", self.plan_id)
            for w in list(self.watchers):
                w.end(exc)
            raise

    async def _tell(self, message: Message) -> None:
        watchers = list(self.watchers)
        if not watchers:
            return
        change = _Change(self.plan_id, int(message["version"]), str(message["change"]))
        principals = list(dict.fromkeys(w.principal for w in watchers))  # each distinct one once
        async with self.hub.db.read() as session:
            readable = await plans_repo.readable_by(session, principals, clock.today(), self.plan_id)
        may = {p for p, ok in zip(principals, readable, strict=True) if ok}
        for w in watchers:
            if w.principal in may:
                w.tell(change)
            else:
                w.end()

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


def _feed_failed() -> GraphQLError:
    """What a page hears when this process lost the plan's channel (the page then reads again)."""
    return GraphQLError(
        "Direktuppdateringen av planen avbröts. Ladda om sidan. / Live updates of the plan stopped. Reload the page.",
        extensions={"code": "SERVICE_UNAVAILABLE"},
    )


def _raise_outage(error: BaseException) -> None:
    """The feed ended for an outage: raised afresh for this subscription (the feed's error is shared)."""
    if is_broker_outage(error):
        raise BrokerUnavailable from error
    if is_outage(error):
        raise DatabaseUnavailable from error


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
            while (change := await watcher.next()) is not None:
                yield PlanChangeType(plan_id=plan_id, version=change.version, change=change.change)
            if watcher.error is not None:
                _raise_outage(watcher.error)
                raise _feed_failed() from watcher.error


class KnownPlanChanges:
    """The pages' own PlanChanges document (graphql/operations), served without strawberry: the same
    watch and access check as `PlanSubscription.plan_changes`, and each change encoded once for all
    pages of the feed. Recognised by its printed text, as `api.compiled` recognises queries."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.text = operations.documents()["PlanChanges"]
        document = parse(self.text)
        self.operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        self.selection = _selection(self.operation)
        self._is_known = functools.lru_cache(maxsize=64)(self._printed_is_known)
        self.serving = 0  # pages served now

    def _printed_is_known(self, query: str, operation_name: str | None) -> bool:
        try:
            document = parse(query)
        except GraphQLError:
            return False
        return operations.canonical(document, operation_name) == self.text

    def plan_id(self, operation: Operation[Context, None]) -> uuid.UUID | None:
        """The plan the operation watches, if it is the known document with good variables."""
        if self.selection is None or not self._is_known(operation.query, operation.operation_name):
            return None
        definitions = self.operation.variable_definitions or ()
        coerced = get_variable_values(self.schema, definitions, operation.variables or {})
        if isinstance(coerced, list):
            return None  # strawberry reports the errors
        root = self.operation.selection_set.selections[0]
        assert isinstance(root, FieldNode)
        subscription = self.schema.subscription_type
        assert subscription is not None
        args = get_argument_values(subscription.fields[root.name.value], root, coerced)
        plan_id = args.get("planId")
        return plan_id if isinstance(plan_id, uuid.UUID) else None

    async def serve(self, ctx: Context, operation: Operation[Context, None]) -> bool:
        """Serve the operation to its end; False, having sent nothing, to leave it to strawberry
        (not the known document, or a plan the person cannot read: strawberry says "not found")."""
        plan_id = self.plan_id(operation)
        if plan_id is None or self.selection is None:
            return False
        async with feeds_for(ctx.live.broker, ctx.db).watch(ctx.principal, plan_id) as watcher:
            async with ctx.db.read() as session:
                if not await plans_repo.is_readable(session, ctx.principal, clock.today(), plan_id):
                    return False
            self.serving += 1
            try:
                await self._tell(operation, watcher)
            finally:
                self.serving -= 1
        await operation.send_operation_message({"id": operation.id, "type": "complete"})
        return True

    async def _tell(self, operation: Operation[Context, None], watcher: _Watcher) -> None:
        assert self.selection is not None
        while (change := await watcher.next()) is not None:
            # the bytes encoded once, spliced into each page's message by orjson (kit.jsonenc)
            payload = cast(NextMessagePayload, change.encoded(self.selection))
            await operation.send_operation_message(NextMessage(id=operation.id, type="next", payload=payload))
        if watcher.error is not None:
            _raise_outage(watcher.error)  # the handler closes the socket (1013)
            failed = NextMessagePayload(data=None, errors=[_feed_failed().formatted])
            await operation.send_operation_message(NextMessage(id=operation.id, type="next", payload=failed))


def _selection(operation: OperationDefinitionNode) -> Selection | None:
    """The document's one root field and its plain fields, or None if it asks for more than that."""
    roots = operation.selection_set.selections
    if operation.operation is not OperationType.SUBSCRIPTION or operation.directives or len(roots) != 1:
        return None
    root = roots[0]
    if not isinstance(root, FieldNode) or root.name.value != "planChanges" or root.directives:
        return None
    fields: list[tuple[str, str]] = []
    for node in root.selection_set.selections if root.selection_set else ():
        known = ("__typename", "planId", "version", "change")
        if not isinstance(node, FieldNode) or node.name.value not in known or node.directives or node.arguments:
            return None
        fields.append(((node.alias or node.name).value, node.name.value))
    return ((root.alias or root.name).value, root.name.value), tuple(fields)


class LiveUpdatesHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws as strawberry runs it, but the pages' PlanChanges by `KnownPlanChanges`
    when the view has one (`known_plan_changes`; SIP_COMPILED_OPERATIONS=false: none).

    An outage closes the socket with 1013 (Try Again Later) and a reason, rather than answering
    each message with an error: the database's or Redis's, when it begins (`Outages.begins`, for
    every open socket), or when one of the socket's own operations meets it. The pages connect
    again with a pause and subscribe again; the outage is logged once (kit.outage)."""

    async def handle(self) -> None:
        watching = asyncio.create_task(self._close_when_an_outage_begins(), name="websocket-outages")
        try:
            await super().handle()
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    def _database_outages(self) -> Outages | None:
        outages: Outages | None = getattr(self.view, "outages", None)
        return outages

    async def _close_when_an_outage_begins(self) -> None:
        waits: dict[asyncio.Future[None], str] = {}
        if (database := self._database_outages()) is not None:
            waits[asyncio.ensure_future(database.begins())] = DATABASE_DOWN_REASON
        if (broker := self.context.live.broker.outages) is not None:
            waits[asyncio.ensure_future(broker.begins())] = BROKER_DOWN_REASON
        if not waits:
            return
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        await self._close_unavailable(waits[next(iter(done))])

    async def _close_unavailable(self, reason: str) -> None:
        with contextlib.suppress(Exception):  # closed already, by us or the other side
            await self.websocket.close(code=TRY_AGAIN_LATER, reason=reason)

    async def _outage_met(self, error: BaseException) -> bool:
        """If `error` is an outage: noted (logged once), the socket closed; True."""
        if is_broker_outage(error):
            await self._close_unavailable(BROKER_DOWN_REASON)  # logged by kit.pubsub
            return True
        if is_outage(error):
            if (outages := self._database_outages()) is not None:
                outages.failed(error)
            await self._close_unavailable(DATABASE_DOWN_REASON)
            return True
        return False

    async def send_message(self, message: SocketMessage) -> None:
        # An operation that met an outage (api.schema notes it on the connection's context): the
        # socket is closed instead of answering it with an error.
        if self.context.outage is not None and await self._outage_met(self.context.outage):
            return
        await super().send_message(message)

    async def handle_task_exception(self, error: Exception) -> None:
        if not await self._outage_met(error):  # an outage: closed, and no traceback
            await super().handle_task_exception(error)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """Signing in needs the database: while it is unreachable the socket is closed with 1013
        (Try Again Later), and the outage logged once (kit.outage), not a traceback."""
        try:
            await super().handle_connection_init(message)
        except Exception as error:
            if not await self._outage_met(error):
                raise

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        known: KnownPlanChanges | None = getattr(self.view, "known_plan_changes", None)
        try:
            served = known is not None and await known.serve(self.context, operation)
        except Exception as error:  # as strawberry's own run_operation: logged, then complete
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise
        if not served:
            await super().run_operation(operation)
