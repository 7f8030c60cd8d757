"""Per-request context: who is asking, and dataloaders built for this request only."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import TypeVar

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from sip_service import usecases
from sip_service.audit.service import Access
from sip_service.auth.principal import GuestPrincipal, Principal
from sip_service.identity import repository as identity_repo
from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.kit.outage import is_outage
from sip_service.kit.pubsub import InProcessBroker
from sip_service.meetings import invites
from sip_service.meetings.room import Live
from sip_service.models.audit import AuditAccess
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.models.meetings import InviteLink
from sip_service.models.notify import OutboxMessage
from sip_service.models.plans import FollowUp, Plan, Revision
from sip_service.notify import service as outbox
from sip_service.plans import repository as plans_repo
from sip_service.settings import Settings
from sip_service.stats.service import OFF, Lattices

logger = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class RequestReads:
    """The request's one read session. Sibling resolvers run concurrently and an AsyncSession must
    not be used by two at once, so each use holds a lock; one session (one connection, one
    transaction) per request is much cheaper than one per batch."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._session: AsyncSession | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
            if self._session is None:
                self._session = self._db.sessions()
            yield self._session

    async def after_write(self) -> None:
        """Start afresh after a write: a new snapshot (SQLite keeps one per transaction) and no
        objects from before the write."""
        async with self._lock:
            if self._session is not None:
                self._session.expunge_all()
                await self._session.rollback()

    async def close(self) -> None:
        async with self._lock:
            if self._session is not None:
                await self._session.close()
                self._session = None


class Loaders:
    """Batch loads for one request, each batch in the request's read session."""

    def __init__(self, reads_db: RequestReads, principal: Principal, today: date, reads: AuditReads) -> None:
        self._reads_db = reads_db

        async def plans(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Plan]:
            found = await plans_repo.load_aggregates(session, principal, today, ids)
            reads.plans(found.values())
            return found

        async def participants(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, plans_repo.Roster]:
            return await plans_repo.participants_of(session, principal, today, ids)

        async def revisions(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Revision]]:
            return await plans_repo.revisions_of(session, ids)

        async def follow_ups(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[FollowUp]]:
            return await plans_repo.follow_ups_of(session, ids)

        async def organisations(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Organisation]:
            return await identity_repo.by_ids(session, Organisation, ids)

        async def staff(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StaffMember]:
            return await identity_repo.by_ids(session, StaffMember, ids)

        async def citizens(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Citizen]:
            return await identity_repo.by_ids(session, Citizen, ids)

        async def care_organisations(
            session: AsyncSession, ids: Sequence[uuid.UUID]
        ) -> dict[uuid.UUID, set[uuid.UUID]]:
            return await plans_repo.care_organisations_of(session, ids)

        # A plan the principal may not read loads as None: the same as one that does not exist.
        self.plan: DataLoader[uuid.UUID, Plan | None] = self._loader(plans)
        self.participants: DataLoader[uuid.UUID, plans_repo.Roster | None] = self._loader(participants)
        self.revisions: DataLoader[uuid.UUID, list[Revision] | None] = self._loader(revisions)
        # By plan id (a plan already read through the scope): its follow-ups, ratings and reviews.
        self.follow_ups: DataLoader[uuid.UUID, list[FollowUp] | None] = self._loader(follow_ups)
        self.organisation: DataLoader[uuid.UUID, Organisation | None] = self._loader(organisations)
        self.staff_member: DataLoader[uuid.UUID, StaffMember | None] = self._loader(staff)
        self.citizen: DataLoader[uuid.UUID, Citizen | None] = self._loader(citizens)

        async def invite_links(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[InviteLink]]:
            return await invites.active_links(session, ids, clock.now())

        async def deliveries(
            session: AsyncSession, ids: Sequence[uuid.UUID]
        ) -> dict[uuid.UUID, dict[uuid.UUID, OutboxMessage]]:
            return await outbox.latest_by_participant(session, ids)

        self.care_organisations: DataLoader[uuid.UUID, set[uuid.UUID] | None] = self._loader(care_organisations)
        # By meeting id: its working invite links, and each participant's latest message about it.
        self.invite_links: DataLoader[uuid.UUID, list[InviteLink] | None] = self._loader(invite_links)
        self.deliveries: DataLoader[uuid.UUID, dict[uuid.UUID, OutboxMessage] | None] = self._loader(deliveries)

    def _loader(self, fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[dict[K, V]]]) -> DataLoader[K, V | None]:
        async def load(keys: list[K]) -> list[V | None]:
            async with self._reads_db.session() as session:
                found = await fetch(session, keys)
            return [found.get(k) for k in keys]

        return DataLoader(load_fn=load)


class AuditReads:
    """What this request read about which plans or patients; written to the audit trail once the
    request has run (see `api.schema.AuditReadsExtension`), each thing once."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, uuid.UUID | None, uuid.UUID | None], Access] = {}
        # Staff who opened a plan they take part in (their participation ids): no longer new in
        # their inbox. Written with the audit events, so only an answer that leaves counts.
        self.opened: set[uuid.UUID] = set()

    def add(self, action: str, plan_id: uuid.UUID | None, patient_id: uuid.UUID | None) -> None:
        self.pending.setdefault((action, plan_id, patient_id), Access(AuditAccess.READ, action, plan_id, patient_id))

    def other(self, access: Access) -> None:
        """A read of no plan, recorded with what was asked (a statistics read and its filter)."""
        key = (f"{access.action} {access.detail or ''}", access.plan_id, access.patient_id)
        self.pending.setdefault(key, access)

    def plans(self, plans: Iterable[Plan]) -> None:
        for p in plans:
            self.add("plan.read", p.id, p.patient_id)


async def record_reads_or_withhold(ctx: Context) -> GraphQLError | None:
    """Write the request's reads to the audit trail before the answer leaves; if that fails, the
    error to answer with instead: nobody reads plan data without a trace. The plans a staff member
    opened are marked seen in their inbox in the same transaction."""
    try:
        await usecases.record_reads(ctx.db, ctx.principal, list(ctx.reads.pending.values()), ctx.reads.opened)
    except Exception as exc:
        if is_outage(exc):
            raise  # the database is unreachable: answered 503 (http.outage), logged once
        logger.exception("audit trail write failed; the answer is withheld")
        return GraphQLError(
            "Åtkomsten kunde inte loggas. / The access could not be logged.",
            extensions={"code": "AUDIT_UNAVAILABLE"},
        )
    return None


class Context(BaseContext):
    """One request's context. Over a websocket, the person is known only after `connection_init`
    (see `app.GraphQLRouterWithSignIn`); no operation runs before that."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        principal: Principal | None,
        live: Live | None = None,
        *,
        from_browser: bool = False,
        lattices: Lattices = OFF,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.db = db
        self.live = live or Live(InProcessBroker())
        self.lattices = lattices  # the process's counted statistics (stats/service.Lattices)
        self.connection_params: dict[str, object] | None = None
        # A page of ours asks (session cookie, or a guest's meeting token): in production it may
        # send only the known operations (api/operations.py).
        self.from_browser = from_browser or isinstance(principal, GuestPrincipal)
        self.reads = AuditReads()
        self.read_session = RequestReads(db)
        self._principal = principal
        self._loaders: Loaders | None = None
        # The database unreachable while the operation ran (api.schema.Schema notes it): answered 503.
        self.outage: BaseException | None = None
        if principal is not None:
            self._new_loaders()

    @property
    def principal(self) -> Principal:
        if self._principal is None:
            raise RuntimeError("no operation runs before the connection is signed in")
        return self._principal

    def sign_in(self, principal: Principal, *, from_browser: bool = False) -> None:
        self._principal = principal
        self.from_browser = from_browser or isinstance(principal, GuestPrincipal)
        self._new_loaders()

    def _new_loaders(self) -> None:
        self.today = clock.today()
        self._loaders = None

    @property
    def loaders(self) -> Loaders:
        """Made at first use: an operation answered by its compiled form needs none."""
        if self._loaders is None:
            self._loaders = Loaders(self.read_session, self.principal, self.today, self.reads)
        return self._loaders

    async def after_write(self) -> None:
        """Later fields must read the new state, not this request's cache or snapshot."""
        await self.read_session.after_write()
        self._new_loaders()
