"""Live video meetings: the lobby, and signaling between participants (mutations in, one event
subscription out). Joining, admitting and removing are writes about the plan's meeting and are
audited; signals are relayed, not stored."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Annotated

import strawberry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import (
    AnyError,
    Error,
    ForbiddenError,
    NotFoundError,
    ValidationError,
    mutate,
    query_error,
    to_graphql,
)
from sip_service.kit import clock, errors
from sip_service.meetings import lobby, room
from sip_service.models import meetings as models
from sip_service.settings import MediaBackend
from sip_service.video import channel, ice

MeetingPresenceState = strawberry.enum(models.Presence, name="MeetingPresenceState")
SignalKind = strawberry.enum(lobby.SignalKind, name="SignalKind")
MeetingEventKind = strawberry.enum(lobby.EventKind, name="MeetingEventKind")


@strawberry.type(name="MeetingPresence", description="Where you are in the meeting: in the room, or waiting.")
class MeetingPresenceType:
    meeting_id: uuid.UUID
    participant_id: uuid.UUID
    state: MeetingPresenceState  # type: ignore[valid-type]


MeetingPresenceResult = Annotated[MeetingPresenceType | AnyError, strawberry.union("MeetingPresenceResult")]


@strawberry.type(description="Too many requests; try again after `retryAfterSeconds`.")
class RateLimitedError(Error):
    retry_after_seconds: float


@strawberry.type(name="SignalSent")
class SignalSentType:
    to_participant_id: uuid.UUID


SendSignalResult = Annotated[
    SignalSentType | RateLimitedError | NotFoundError | ForbiddenError | ValidationError,
    strawberry.union("SendSignalResult"),
]


@strawberry.type(
    name="MeetingEvent",
    description="Something that happened in the meeting. Lobby events (JOINED, LEFT, WAITING: `from` is who; "
    "ADMITTED, REMOVED: `to` is who, `from` the staff member) are seen from the room; signals only by `to`.",
)
class MeetingEventType:
    kind: MeetingEventKind  # type: ignore[valid-type]
    from_participant_id: uuid.UUID
    from_name: str
    to_participant_id: uuid.UUID | None
    to_name: str | None
    payload: str | None
    state: MeetingPresenceState | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="SUBSCRIBED: where you are now."
    )

    @staticmethod
    def of(e: lobby.Event) -> MeetingEventType:
        return MeetingEventType(
            kind=lobby.EventKind(e["kind"]),
            from_participant_id=uuid.UUID(e["from"]),
            from_name=e["fromName"],
            to_participant_id=uuid.UUID(e["to"]) if e.get("to") else None,
            to_name=e.get("toName"),
            payload=e.get("payload"),
        )


async def _publish(info: Info[Context, None], meeting_id: uuid.UUID, events: list[lobby.Event]) -> None:
    await channel.publish(info.context.live.broker, meeting_id, events)


async def _lobby_change(
    info: Info[Context, None], meeting_id: uuid.UUID, change: Callable[[AsyncSession], Awaitable[room.Outcome]]
) -> MeetingPresenceType | AnyError:
    await info.context.live.broker.available()  # others must hear of it: Redis down, 503 before any write
    result = await mutate(info, change, lambda outcome: outcome)
    if not isinstance(result, room.Outcome):
        return result
    await _publish(info, meeting_id, result.events)  # after the commit: what others see is true
    return MeetingPresenceType(
        meeting_id=meeting_id, participant_id=result.member.participant_id, state=result.presence
    )


def _live_error(exc: errors.DomainError) -> NotFoundError | ForbiddenError | ValidationError:
    """Live operations read only; of the domain errors, these are the ones they meet."""
    error = to_graphql(exc)
    assert isinstance(error, NotFoundError | ForbiddenError | ValidationError)
    return error


@strawberry.type(name="RoomMember", description="Someone in the meeting's room or waiting in its lobby.")
class RoomMemberType:
    participant_id: uuid.UUID
    name: str
    kind: str = strawberry.field(description="PATIENT, STAFF, RELATIVE, REPRESENTATIVE or EXTERNAL.")
    role: str = strawberry.field(description="The role as written in the plan; may be empty.")
    state: MeetingPresenceState  # type: ignore[valid-type]


@strawberry.type(name="MeetingRoom")
class MeetingRoomType:
    meeting_id: uuid.UUID
    members: list[RoomMemberType]


MeetingRoomResult = Annotated[
    MeetingRoomType | NotFoundError | ForbiddenError | ValidationError, strawberry.union("MeetingRoomResult")
]


@strawberry.type
class LiveMeetingQuery:
    @strawberry.field(
        description="Who is in the room and who waits in the lobby now (for those in the room); "
        "meetingEvents tells what changes after."
    )
    async def meeting_room(self, info: Info[Context, None], meeting_id: uuid.UUID) -> MeetingRoomResult:
        ctx = info.context
        try:
            async with ctx.db.read() as session:
                members = await room.occupants(session, ctx.principal, meeting_id)
        except errors.DomainError as exc:
            return _live_error(exc)
        return MeetingRoomType(
            meeting_id=meeting_id,
            members=[
                RoomMemberType(
                    participant_id=m.participant_id, name=m.name, kind=m.kind.value, role=m.role, state=m.state
                )
                for m in members
            ],
        )


@strawberry.type
class LiveMeetingMutation:
    @strawberry.mutation(
        description="Enter the meeting: staff taking part go into the room; others wait in the lobby until "
        "a staff participant admits them (once admitted, they come back in without waiting)."
    )
    async def join_meeting(self, info: Info[Context, None], meeting_id: uuid.UUID) -> MeetingPresenceResult:
        p = info.context.principal
        try:
            return await _lobby_change(info, meeting_id, lambda s: room.join(s, p, meeting_id))
        except IntegrityError:  # the same person joined at once from another tab, and got in first
            return await _lobby_change(info, meeting_id, lambda s: room.join(s, p, meeting_id))

    @strawberry.mutation(description="Let a waiting participant into the room (staff in the room).")
    async def admit_to_meeting(
        self, info: Info[Context, None], meeting_id: uuid.UUID, participant_id: uuid.UUID
    ) -> MeetingPresenceResult:
        p = info.context.principal
        return await _lobby_change(info, meeting_id, lambda s: room.admit(s, p, meeting_id, participant_id))

    @strawberry.mutation(description="Send someone out of the room or lobby; a guest must be admitted again.")
    async def remove_from_meeting(
        self, info: Info[Context, None], meeting_id: uuid.UUID, participant_id: uuid.UUID
    ) -> MeetingPresenceResult:
        p = info.context.principal
        return await _lobby_change(info, meeting_id, lambda s: room.remove(s, p, meeting_id, participant_id))

    @strawberry.mutation(description="Leave the meeting.")
    async def leave_meeting(self, info: Info[Context, None], meeting_id: uuid.UUID) -> MeetingPresenceResult:
        p = info.context.principal
        return await _lobby_change(info, meeting_id, lambda s: room.leave(s, p, meeting_id))

    @strawberry.mutation(
        description="Relay a WebRTC signal to one participant in the room (OFFER and ANSWER: an SDP, "
        f"at most {lobby.MAX_SIGNAL_BYTES} bytes). At most {lobby.SIGNALS_PER_WINDOW} per "
        f"{lobby.SIGNAL_WINDOW_S:.0f} seconds each."
    )
    async def send_signal(
        self,
        info: Info[Context, None],
        meeting_id: uuid.UUID,
        to_participant_id: uuid.UUID,
        kind: SignalKind,  # type: ignore[valid-type]
        payload: str,
    ) -> SendSignalResult:
        ctx = info.context
        try:
            async with ctx.db.read() as session:
                relayed = await room.signal(
                    session,
                    ctx.principal,
                    ctx.live,
                    meeting_id,
                    to_participant_id,
                    kind,
                    payload,
                    media_takes_offers=ctx.settings.media_backend is MediaBackend.JANUS,
                )
        except errors.DomainError as exc:
            return _live_error(exc)
        if isinstance(relayed, float):
            return RateLimitedError(
                code="RATE_LIMITED",
                message="För många signaler. / Too many signals; slow down.",
                retry_after_seconds=round(relayed, 3),
            )
        await _publish(info, meeting_id, [relayed])
        return SignalSentType(to_participant_id=to_participant_id)

    @strawberry.mutation(
        description="Connect your camera and microphone to the meeting (in the room only); again, in full, "
        "after the connection failed. The media server then sends you an OFFER."
    )
    async def connect_media(self, info: Info[Context, None], meeting_id: uuid.UUID) -> ConnectMediaResult:
        ctx = info.context
        try:
            async with ctx.db.read() as session:
                who = await room.connect_media(session, ctx.principal, meeting_id)
        except errors.DomainError as exc:
            return _live_error(exc)
        await ctx.live.broker.publish(channel.MEDIA_CHANNEL, channel.connect_request(meeting_id, who))
        me = who.member.participant_id
        return MediaConnectionType(
            participant_id=me,
            media_server_id=lobby.MEDIA_SERVER,
            ice_servers=[
                IceServerType(urls=s.urls, username=s.username, credential=s.credential)
                for s in ice.ice_servers(ctx.settings, me, clock.now())
            ],
            relay_only=ctx.settings.ice_relay_only,
            publish_separately=ctx.settings.media_backend is MediaBackend.JANUS,
        )


@strawberry.type(name="IceServer", description="A STUN or TURN server for RTCPeerConnection's iceServers.")
class IceServerType:
    urls: list[str]
    username: str | None
    credential: str | None


@strawberry.type(
    name="MediaConnection",
    description=f"The media server will send you an OFFER (from {lobby.MEDIA_SERVER}); answer it with sendSignal "
    "to that id. Use these ICE servers.",
)
class MediaConnectionType:
    participant_id: uuid.UUID
    media_server_id: uuid.UUID
    ice_servers: list[IceServerType]
    relay_only: bool = strawberry.field(
        description='Use only the TURN servers\' relayed candidates (RTCConfiguration.iceTransportPolicy "relay").'
    )
    publish_separately: bool = strawberry.field(
        description="Publish your camera and microphone on a peer connection of your own: send its OFFER to the "
        'media server (which ANSWERs it; its ICE_CANDIDATE payloads carry "publish": true). The media '
        "server's OFFERs are then for receiving the others only (Janus). False: one connection, the media "
        "server offers (the embedded relay).",
        default=False,
    )


ConnectMediaResult = Annotated[
    MediaConnectionType | NotFoundError | ForbiddenError | ValidationError, strawberry.union("ConnectMediaResult")
]


@strawberry.type
class LiveMeetingSubscription:
    @strawberry.subscription(
        description="The meeting's events as they happen, for you: first SUBSCRIBED (then join). When the "
        "stream ends you are away from the meeting."
    )
    async def meeting_events(
        self, info: Info[Context, None], meeting_id: uuid.UUID
    ) -> AsyncGenerator[MeetingEventType, None]:
        ctx = info.context
        try:
            async with ctx.db.read() as session:
                me = await room.member(session, ctx.principal, meeting_id)
        except errors.DomainError as exc:
            raise query_error(exc) from None
        mine = str(me.participant_id)
        async with ctx.live.broker.subscribe(lobby.channel(meeting_id)) as events:
            try:
                async with ctx.db.read() as session:  # after subscribing: nothing falls in between
                    presence = await room.presence_of(session, meeting_id, me.participant_id)
                in_room = presence is models.Presence.IN_ROOM
                first = lobby.event(lobby.EventKind.SUBSCRIBED, me.participant_id, me.name)
                yield MeetingEventType(**vars(MeetingEventType.of(first)) | {"state": presence})
                async for e in events:
                    if lobby.visible(e, mine, in_room):
                        yield MeetingEventType.of(e)
                    in_room = lobby.in_room_after(e, mine, in_room)
            finally:
                with contextlib.suppress(Exception):
                    async with ctx.db.write() as session:
                        gone = await room.dropped(session, me)
                    await channel.publish(ctx.live.broker, meeting_id, gone)
