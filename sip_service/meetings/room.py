"""Who is in a video meeting's room and who waits in its lobby; the signals between them.

Presence is kept in the database (meeting_admissions), so that every service process sees the
same room; events go through the broker after the transaction commits. Never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.auth.principal import CitizenPrincipal, GuestPrincipal, Principal, StaffPrincipal
from sip_service.kit import clock
from sip_service.kit.errors import Forbidden, Invalid, NotFound
from sip_service.kit.pubsub import Broker
from sip_service.kit.ratelimit import SlidingWindowLimiter
from sip_service.meetings import invites, lobby
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.meetings import Meeting, MeetingAdmission, MeetingStatus, Presence
from sip_service.models.plans import Participant, ParticipantKind, Plan
from sip_service.plans import participation, policy
from sip_service.plans import repository as plans_repo


@dataclass
class Live:
    """This process's side of live meetings: the broker, and the per-participant signal limit."""

    broker: Broker
    signals: SlidingWindowLimiter = field(
        default_factory=lambda: SlidingWindowLimiter(limit=lobby.SIGNALS_PER_WINDOW, window_s=lobby.SIGNAL_WINDOW_S)
    )


@dataclass(frozen=True)
class PresenceCounts:
    """Video meetings right now, over every process (for /metrics)."""

    participants: dict[str, int]  # by presence: WAITING (a lobby), IN_ROOM
    meetings: int  # meetings with someone waiting or in the room


async def presence_counts(session: AsyncSession) -> PresenceCounts:
    here = MeetingAdmission.presence != Presence.AWAY
    counts = {p.value: 0 for p in Presence if p is not Presence.AWAY}
    stmt = select(MeetingAdmission.presence, func.count()).where(here).group_by(MeetingAdmission.presence)
    for presence, count in await session.execute(stmt):
        counts[Presence(presence).value] = int(count)
    meetings = await session.scalar(select(func.count(func.distinct(MeetingAdmission.meeting_id))).where(here))
    return PresenceCounts(counts, int(meetings or 0))


@dataclass(frozen=True)
class Member:
    """The principal as a participant of the meeting."""

    meeting_id: uuid.UUID
    plan_id: uuid.UUID  # the plan the audit event is about
    participant_id: uuid.UUID
    name: str
    is_staff: bool


@dataclass
class Outcome:
    member: Member
    presence: Presence
    events: list[lobby.Event]

    @property
    def plan_id(self) -> uuid.UUID:
        return self.member.plan_id


def _not_found(meeting_id: uuid.UUID) -> NotFound:
    return NotFound("Meeting", meeting_id)


async def member(session: AsyncSession, principal: Principal, meeting_id: uuid.UUID) -> Member:
    """Staff participants of the plan; guests whose link still works; signed-in citizens who take
    part in the plan and are invited. Everyone else: not found."""
    if isinstance(principal, GuestPrincipal):
        if not await invites.admitted(session, principal, meeting_id, clock.now()):
            raise _not_found(meeting_id)
        return Member(meeting_id, principal.plan_id, principal.participant_id, principal.name, is_staff=False)
    plan_id = await plans_repo.plan_id_of(session, Meeting, meeting_id)
    if plan_id is None:
        raise _not_found(meeting_id)
    try:
        plan = await plans_repo.get_aggregate(session, principal, clock.today(), plan_id)
    except NotFound:
        raise _not_found(meeting_id) from None
    meeting = next(m for m in plan.meetings if m.id == meeting_id)
    me = _participant(principal, plan, meeting)
    if me is None:
        raise _not_found(meeting_id)
    if meeting.status is MeetingStatus.CANCELLED:
        raise Invalid("the meeting is cancelled", field="meetingId")
    return Member(meeting_id, plan.id, me.id, principal.name, is_staff=isinstance(principal, StaffPrincipal))


def _participant(principal: Principal, plan: Plan, meeting: Meeting) -> Participant | None:
    if isinstance(principal, StaffPrincipal):
        return next(
            (
                p
                for p in plan.participants
                if p.kind is ParticipantKind.STAFF and p.staff_member_id == principal.staff_id
            ),
            None,
        )
    assert isinstance(principal, CitizenPrincipal)
    invited = {i.participant_id for i in meeting.invitations}
    return next(
        (
            p
            for p in plan.participants
            if p.citizen_id == principal.citizen_id
            and p.id in invited
            and participation.takes_part(p.kind, p.wanted_by_patient)
        ),
        None,
    )


async def _row(session: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID) -> MeetingAdmission | None:
    stmt = select(MeetingAdmission).where(
        MeetingAdmission.meeting_id == meeting_id, MeetingAdmission.participant_id == participant_id
    )
    return (await session.scalars(stmt)).one_or_none()


async def presence_of(session: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID) -> Presence:
    row = await _row(session, meeting_id, participant_id)
    return Presence.AWAY if row is None else row.presence


def _name_column() -> ColumnElement[str]:
    """A participant's name: the staff member's, the citizen's, or the external party's."""
    return func.coalesce(StaffMember.name, Citizen.name, Participant.external_name, "")


async def _name(session: AsyncSession, participant_id: uuid.UUID) -> str:
    stmt = (
        select(_name_column())
        .select_from(Participant)
        .outerjoin(StaffMember, StaffMember.id == Participant.staff_member_id)
        .outerjoin(Citizen, Citizen.id == Participant.citizen_id)
        .where(Participant.id == participant_id)
    )
    return str(await session.scalar(stmt) or "")


async def join(session: AsyncSession, principal: Principal, meeting_id: uuid.UUID) -> Outcome:
    me = await member(session, principal, meeting_id)
    row = await _row(session, meeting_id, me.participant_id)
    now = clock.now()
    if row is None:
        row = MeetingAdmission(
            meeting_id=meeting_id, participant_id=me.participant_id, presence=Presence.AWAY, updated_at=now
        )
        session.add(row)
    row.presence = lobby.on_join(is_staff=me.is_staff, admitted=row.admitted_at is not None)
    row.updated_at = now
    kind = lobby.EventKind.JOINED if row.presence is Presence.IN_ROOM else lobby.EventKind.WAITING
    return Outcome(me, row.presence, [lobby.event(kind, me.participant_id, me.name)])


async def _staff_acts_on(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID, participant_id: uuid.UUID, *states: Presence
) -> tuple[Member, MeetingAdmission]:
    me = await member(session, principal, meeting_id)
    if not me.is_staff:
        raise Forbidden("only staff taking part in the meeting can do this")
    if await presence_of(session, meeting_id, me.participant_id) is not Presence.IN_ROOM:
        raise Forbidden("join the meeting first")
    row = await _row(session, meeting_id, participant_id)
    if row is None or row.presence not in states:
        raise NotFound("Participant", participant_id)
    return me, row


async def admit(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID, participant_id: uuid.UUID
) -> Outcome:
    me, row = await _staff_acts_on(session, principal, meeting_id, participant_id, Presence.WAITING)
    staff = policy.require_staff(principal)
    # Someone who waits was let into the lobby, but the patient may have refused them since.
    who = await session.get(Participant, participant_id)
    assert who is not None  # the admission row refers to it
    participation.require_chosen([who], field="participantId")
    now = clock.now()
    row.presence, row.admitted_at, row.admitted_by_staff_id, row.updated_at = Presence.IN_ROOM, now, staff.staff_id, now
    name = await _name(session, participant_id)
    return Outcome(
        me, row.presence, [lobby.event(lobby.EventKind.ADMITTED, me.participant_id, me.name, participant_id, name)]
    )


async def remove(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID, participant_id: uuid.UUID
) -> Outcome:
    """Out of the room or lobby; a guest must be admitted again."""
    me, row = await _staff_acts_on(session, principal, meeting_id, participant_id, Presence.IN_ROOM, Presence.WAITING)
    if participant_id == me.participant_id:
        raise Invalid("leave the meeting instead", field="participantId")
    row.presence, row.admitted_at, row.admitted_by_staff_id, row.updated_at = Presence.AWAY, None, None, clock.now()
    name = await _name(session, participant_id)
    return Outcome(
        me, row.presence, [lobby.event(lobby.EventKind.REMOVED, me.participant_id, me.name, participant_id, name)]
    )


async def leave(session: AsyncSession, principal: Principal, meeting_id: uuid.UUID) -> Outcome:
    """Out of the room or lobby; whoever was admitted comes back in without waiting."""
    me = await member(session, principal, meeting_id)
    row = await _row(session, meeting_id, me.participant_id)
    if row is None or row.presence is Presence.AWAY:
        return Outcome(me, Presence.AWAY, [])
    row.presence, row.updated_at = Presence.AWAY, clock.now()
    return Outcome(me, Presence.AWAY, [lobby.event(lobby.EventKind.LEFT, me.participant_id, me.name)])


async def dropped(session: AsyncSession, me: Member) -> list[lobby.Event]:
    """The participant's event stream ended (closed tab, lost network): they are away."""
    row = await _row(session, me.meeting_id, me.participant_id)
    if row is None or row.presence is Presence.AWAY:
        return []
    row.presence, row.updated_at = Presence.AWAY, clock.now()
    return [lobby.event(lobby.EventKind.LEFT, me.participant_id, me.name)]


async def signal(
    session: AsyncSession,
    principal: Principal,
    live: Live,
    meeting_id: uuid.UUID,
    to: uuid.UUID,
    kind: lobby.SignalKind,
    payload: str,
    *,
    media_takes_offers: bool = False,
) -> lobby.Event | float:
    """The event to relay, or the seconds to wait when the sender is over the limit. The embedded
    relay makes every offer itself; Janus takes the browser's offer of what it publishes
    (`media_takes_offers`)."""
    me = await member(session, principal, meeting_id)
    wait = live.signals.attempt(f"{meeting_id}:{me.participant_id}")
    if wait is not None:
        return wait
    lobby.check_signal(kind, payload)
    if await presence_of(session, meeting_id, me.participant_id) is not Presence.IN_ROOM:
        raise Forbidden("join the meeting first")
    if to == lobby.MEDIA_SERVER:
        if kind is lobby.SignalKind.OFFER and not media_takes_offers:
            raise Invalid("the media server makes the offers; answer them", field="kind")
        return lobby.event(
            lobby.EventKind(kind.value), me.participant_id, me.name, to, lobby.MEDIA_SERVER_NAME, payload
        )
    if to == me.participant_id or await presence_of(session, meeting_id, to) is not Presence.IN_ROOM:
        raise NotFound("Participant", to)
    return lobby.event(lobby.EventKind(kind.value), me.participant_id, me.name, to, None, payload)


@dataclass(frozen=True)
class MediaMember:
    """Who connects their media: the room shows their name and role on their tile."""

    member: Member
    kind: ParticipantKind
    role: str  # as written in the plan ("Distriktssköterska"); may be empty


async def connect_media(session: AsyncSession, principal: Principal, meeting_id: uuid.UUID) -> MediaMember:
    """Someone in the room asks the media server for a (new) connection."""
    me = await member(session, principal, meeting_id)
    if await presence_of(session, meeting_id, me.participant_id) is not Presence.IN_ROOM:
        raise Forbidden("join the meeting first")
    row = (
        await session.execute(select(Participant.role, Participant.kind).where(Participant.id == me.participant_id))
    ).one()
    return MediaMember(me, row.kind, row.role)


@dataclass(frozen=True)
class Occupant:
    participant_id: uuid.UUID
    name: str
    kind: ParticipantKind
    role: str
    state: Presence


async def occupants(session: AsyncSession, principal: Principal, meeting_id: uuid.UUID) -> list[Occupant]:
    """Who is in the room or the lobby, for someone in the room (the lobby does not see the room)."""
    me = await member(session, principal, meeting_id)
    if await presence_of(session, meeting_id, me.participant_id) is not Presence.IN_ROOM:
        raise Forbidden("join the meeting first")
    stmt = (
        select(
            MeetingAdmission.participant_id,
            _name_column(),
            Participant.kind,
            Participant.role,
            MeetingAdmission.presence,
        )
        .join(Participant, Participant.id == MeetingAdmission.participant_id)
        .outerjoin(StaffMember, StaffMember.id == Participant.staff_member_id)
        .outerjoin(Citizen, Citizen.id == Participant.citizen_id)
        .where(MeetingAdmission.meeting_id == meeting_id, MeetingAdmission.presence != Presence.AWAY)
        .order_by(MeetingAdmission.updated_at)
    )
    return [Occupant(*row) for row in await session.execute(stmt)]
