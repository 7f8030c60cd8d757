"""Meetings on Janus (SIP_MEDIA_BACKEND=janus): the service runs each meeting's VideoRoom, and the
browsers never talk to Janus: their JSEP goes through the meeting's signaling (sendSignal to the
media server, meetingEvents back), as with the embedded relay (sfu.py), which this replaces.

The service is the only authority over the rooms. Per meeting, the first one to connect their media
makes a VideoRoom (random id, secret, PIN, an empty allowed list; janus.VideoRoom). Per participant
(CONNECT: the service already checked that they are in the room, admitted from the lobby):
- their token is added to the allowed list, and a publisher handle joins with it and the PIN;
- they publish on a peer connection of their own: their OFFER to the media server goes to Janus
  (publish), Janus's ANSWER back to them; their ICE candidates for it say {"publish": true};
- they receive on another: a subscriber handle (with their publisher's private_id) takes every other
  participant's feed as it appears; Janus's OFFERs (with MEDIA_TRACKS before each: whose media each
  m-line carries) go to them, their ANSWER back to Janus (start).
LEFT / REMOVED: their token leaves the allowed list, they are kicked and their handles detached; when
nobody is left the room is destroyed. Attendance comes from Janus's events on their publisher handle:
media arriving opens their row, all of it stopping (or their PeerConnection going) closes it.

One task per meeting does its work one message at a time, Janus's events included, as in sfu.Room.
Meetings are spread over the instances of SIP_JANUS_URLS (JanusRelay); one whose Janus stops
answering is forgotten, and made anew on another when its browsers connect again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable

from sip_service.kit.db import Database
from sip_service.kit.pubsub import Broker, Message
from sip_service.meetings import lobby
from sip_service.settings import Settings
from sip_service.video import channel, rooms
from sip_service.video.janus import Handle, JanusError, Json, Session, VideoRoom
from sip_service.video.presence import MediaAttendance

log = logging.getLogger(__name__)


class Member:
    """One participant's side of the room: their publisher and subscriber handles."""

    def __init__(self, room: JanusRoom, connect: Message) -> None:
        self.room = room
        self.id = str(connect["from"])
        self.tag = channel.tag(connect)
        self.token = secrets.token_urlsafe(24)
        self.publisher: Handle | None = None
        self.subscriber: Handle | None = None
        self.feed: int | None = None  # their publisher id in the room
        self.private_id: int | None = None
        self.subscribed: set[int] = set()  # the feeds their subscriber handle takes
        self.receiving: set[str] = set()  # the mids of theirs that Janus receives media on
        # The o= line of the offers to them, as the relay's (one session id per connection, the version
        # counting the offers): Janus puts a new session id in each offer, which would tell a browser
        # that the server started a new connection (video/js/peer.js).
        self.session_id, self.offers = secrets.randbelow(2**62) + 1, 0
        self.presence = MediaAttendance(room.relay.db, room.relay.broker, room.meeting_id, uuid.UUID(self.id))
        self.closed = False

    def events(self, handler: Callable[[Member, Json], Awaitable[None]]) -> Callable[[Json], None]:
        return lambda event: self.room.post(lambda: handler(self, event))

    async def close(self, kick: bool) -> None:
        self.closed = True
        self.presence.stopped()
        video = self.room.video
        if video is not None:
            with contextlib.suppress(JanusError):
                await video.disallow(self.token)
            if kick and self.feed is not None:
                with contextlib.suppress(JanusError):
                    await video.kick(self.feed)
        for handle in (self.subscriber, self.publisher):
            if handle is not None:
                await handle.detach()


class JanusRoom(rooms.MediaRoom):
    """One meeting's VideoRoom and its members."""

    def __init__(self, relay: JanusRelay, meeting_id: uuid.UUID, instance: Instance) -> None:
        self.relay, self.instance = relay, instance
        self.video: VideoRoom | None = None
        self.dead = False  # its Janus was lost: what comes for the meeting goes to a new room
        self.members: dict[str, Member] = {}
        self.feeds: dict[int, Member] = {}
        super().__init__(relay, meeting_id)

    @property
    def empty(self) -> bool:
        return not self.members

    @property
    def participant_count(self) -> int:
        return len(self.members)

    async def gone(self) -> None:
        await self._destroy()

    async def _destroy(self) -> None:
        video, self.video = self.video, None
        if video is not None:
            try:
                await video.destroy()
            except Exception:
                log.exception("janus: could not destroy the room of meeting %s", self.meeting_id)

    async def closing(self) -> set[asyncio.Task[None]]:
        """Everyone out and the room destroyed."""
        writes: set[asyncio.Task[None]] = set()
        for member in list(self.members.values()):
            await member.close(kick=False)
            writes |= member.presence.tasks
        self.members.clear()
        await self._destroy()
        return writes

    async def _publish(self, kind: lobby.EventKind, to: Member, payload: str) -> None:
        e = lobby.event(kind, lobby.MEDIA_SERVER, lobby.MEDIA_SERVER_NAME, uuid.UUID(to.id), to.tag["name"], payload)
        await self.relay.broker.publish(lobby.channel(self.meeting_id), e)

    # ---- what the room does, one at a time ----

    async def lost(self) -> None:
        """Its Janus is gone, and everything of the meeting there: each browser is told (MEDIA_LOST: its
        page says so and connects again in full at once, as it would when its connections failed),
        which makes the meeting anew on a Janus that answers."""
        self.dead, self.video = True, None
        members = list(self.members.values())
        self.members.clear()
        self.feeds.clear()
        for member in members:
            member.closed = True
            member.presence.stopped()
        for member in members:
            await self._publish(lobby.EventKind.MEDIA_LOST, member, "")

    async def connect(self, message: Message) -> None:
        if self.dead:  # asked for before the loss was known here: to the meeting's new room
            self.relay._dispatch(message)
            return
        who = str(message["from"])
        if (old := self.members.get(who)) is not None:
            await self._drop(old, kick=True)
        if self.video is None:
            self.video = await VideoRoom.create(self.instance.control(), str(self.meeting_id), self.relay.admin_key)
        member = self.members[who] = Member(self, message)
        try:
            await self._join(member)
        except Exception:  # Janus refused or did not answer: nothing of theirs stays behind
            await self._drop(member, kick=True)
            raise

    async def _join(self, member: Member) -> None:
        assert self.video is not None
        await self.video.allow(member.token)
        member.publisher = await self.instance.session_().attach(member.events(self.publisher_event))
        joined, _ = await member.publisher.send(
            {
                "request": "join",
                "ptype": "publisher",
                "room": self.video.id,
                "pin": self.video.pin,
                "token": member.token,
                "display": member.id,
            }
        )
        member.feed, member.private_id = int(joined["id"]), int(joined["private_id"])
        self.feeds[member.feed] = member
        await self._subscribe(member, [int(p["id"]) for p in joined.get("publishers") or []])

    async def offer(self, message: Message) -> None:
        """The browser's offer of its camera and microphone: published; Janus's answer back to it."""
        member = self.members.get(str(message["from"]))
        if member is None or member.publisher is None:
            return
        jsep = {"type": "offer", "sdp": str(message.get("payload"))}
        try:
            _, answer = await member.publisher.send({"request": "publish", "display": member.id}, jsep)
        except JanusError as exc:  # an offer Janus cannot use: this participant connects again
            log.warning("janus: could not publish for %s (%s); dropping their connection", member.id, exc)
            await self._drop(member, kick=True)
            return
        if answer is not None:
            await self._publish(lobby.EventKind.ANSWER, member, str(answer["sdp"]))

    async def answer(self, message: Message) -> None:
        """The browser's answer to Janus's offer of the others' media."""
        member = self.members.get(str(message["from"]))
        if member is None or member.subscriber is None:
            return
        try:
            await member.subscriber.send({"request": "start"}, {"type": "answer", "sdp": str(message.get("payload"))})
        except JanusError as exc:
            log.warning("janus: bad answer from %s (%s); dropping their connection", member.id, exc)
            await self._drop(member, kick=True)

    async def candidate(self, message: Message) -> None:
        member = self.members.get(str(message["from"]))
        if member is None:
            return
        try:
            init = json.loads(str(message.get("payload")))
            handle = member.publisher if init.get("publish") else member.subscriber
            if handle is None:
                return
            line = str(init.get("candidate") or "")
            found = {"candidate": line, "sdpMid": init.get("sdpMid"), "sdpMLineIndex": init.get("sdpMLineIndex")}
            await handle.trickle(found if line else None)
        except Exception as exc:
            log.info("janus: ignored a candidate from %s (%s)", member.id, exc)

    async def _subscribe(self, member: Member, feeds: list[int]) -> None:
        """Add these feeds (not their own, not taken already) to what the member receives."""
        new = [f for f in dict.fromkeys(feeds) if f != member.feed and f not in member.subscribed]
        if member.closed or not new or self.video is None:
            return
        member.subscribed.update(new)
        streams = [{"feed": f} for f in new]
        if member.subscriber is None:
            member.subscriber = await self.instance.session_().attach(member.events(self.subscriber_event))
            data, jsep = await member.subscriber.send(
                {
                    "request": "join",
                    "ptype": "subscriber",
                    "room": self.video.id,
                    "pin": self.video.pin,
                    "private_id": member.private_id,
                    "streams": streams,
                }
            )
        else:
            data, jsep = await member.subscriber.send({"request": "subscribe", "streams": streams})
        await self._offer_to(member, data, jsep)

    async def _offer_to(self, member: Member, data: Json, jsep: Json | None) -> None:
        """Janus's offer (if this event has one) to the browser, after whose media each m-line carries."""
        if jsep is None or jsep.get("type") != "offer" or member.closed:
            return
        tracks = []
        for stream in data.get("streams") or []:
            source = self.feeds.get(int(stream.get("feed_id") or 0))
            if source is not None and stream.get("type") in ("audio", "video") and stream.get("active", True):
                tracks.append({"mid": str(stream["mid"]), **source.tag, "media": str(stream["type"])})
        await self._publish(lobby.EventKind.MEDIA_TRACKS, member, json.dumps(tracks, ensure_ascii=False))
        member.offers += 1
        origin = f"o=- {member.session_id} {member.offers} IN IP4 0.0.0.0"
        sdp = re.sub(r"^o=[^\r\n]*", origin, str(jsep["sdp"]), count=1, flags=re.MULTILINE)
        await self._publish(lobby.EventKind.OFFER, member, sdp)

    async def publisher_event(self, member: Member, event: Json) -> None:
        """What Janus tells a participant's publisher handle: others' feeds, and their own media."""
        if member.closed:
            return
        kind = event.get("janus")
        if kind == "event":
            data = (event.get("plugindata") or {}).get("data") or {}
            if publishers := data.get("publishers"):
                await self._subscribe(member, [int(p["id"]) for p in publishers])
            gone = data.get("unpublished") or data.get("leaving")
            if isinstance(gone, int) and not isinstance(gone, bool):
                member.subscribed.discard(gone)  # Janus renegotiates their subscription by itself
            if data.get("videoroom") == "destroyed":
                await self._drop(member, kick=False)
        elif kind == "media":
            mid = str(event.get("mid") or event.get("type"))
            if event.get("receiving"):
                member.receiving.add(mid)
                member.presence.frame()
            else:
                member.receiving.discard(mid)
                if not member.receiving:
                    member.presence.stopped()
        elif kind in ("hangup", "detached"):
            member.receiving.clear()
            member.presence.stopped()

    async def subscriber_event(self, member: Member, event: Json) -> None:
        """Janus renegotiates a subscription by itself (a feed left, or an update it had postponed)."""
        if member.closed or event.get("janus") != "event":
            return
        await self._offer_to(member, (event.get("plugindata") or {}).get("data") or {}, event.get("jsep"))

    async def _drop(self, member: Member, kick: bool) -> None:
        if member.closed:
            return
        if self.members.get(member.id) is member:
            del self.members[member.id]
        if member.feed is not None and self.feeds.get(member.feed) is member:
            del self.feeds[member.feed]
            await self._unsubscribe_all(member.feed)
        await member.close(kick)

    async def _unsubscribe_all(self, feed: int) -> None:
        """Take a feed out of everyone's subscription, and offer them the result. Janus would do it by
        itself when a publisher's media goes, but not once it was kicked (it has left the room then)."""
        for other in list(self.members.values()):
            if feed not in other.subscribed or other.subscriber is None or other.closed:
                continue
            other.subscribed.discard(feed)
            try:
                data, jsep = await other.subscriber.send({"request": "unsubscribe", "streams": [{"feed": feed}]})
            except JanusError as exc:  # gone from their subscription already
                log.info("janus: could not unsubscribe %s from %s (%s)", other.id, feed, exc)
                continue
            await self._offer_to(other, data, jsep)

    async def left(self, participant_id: str) -> None:
        if (member := self.members.get(participant_id)) is not None:
            log.info("janus: %s leaves meeting %s", participant_id, self.meeting_id)
            await self._drop(member, kick=True)


class Instance:
    """One Janus (one of SIP_JANUS_URLS): the service's session with it, while it answers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: Session | None = None
        self._control: Handle | None = None

    @property
    def alive(self) -> bool:
        return self.session is not None and not self.session.lost.is_set()

    async def connect(self) -> None:
        session = await Session.create(self.url)
        try:
            self._control = await session.attach()
        except BaseException:
            await session.destroy()
            raise
        self.session = session

    def session_(self) -> Session:
        if self.session is None or not self.alive:
            raise JanusError(0, f"Janus at {self.url} does not answer")
        return self.session

    def control(self) -> Handle:
        self.session_()
        assert self._control is not None
        return self._control

    async def close(self) -> None:
        session, self.session, self._control = self.session, None, None
        if session is not None:
            await session.destroy()


class JanusRelay(rooms.RoomServer[JanusRoom]):
    """Every meeting of this process (or of the `sip-service media` worker) on Janus: each meeting on
    the instance with the fewest meetings of those that answer. An instance that stops answering
    loses its meetings here; the browsers, whose connections fail, connect again and their meeting is
    made anew on another. The instance is connected to again when it answers."""

    RECONNECT_S = 1.0

    name = "janus"

    def __init__(self, settings: Settings, db: Database, broker: Broker) -> None:
        super().__init__(db, broker)
        self.instances = [Instance(url) for url in settings.janus_urls]
        self.admin_key = settings.janus_admin_key.get_secret_value() if settings.janus_admin_key else None

    def new_room(self, meeting_id: uuid.UUID) -> JanusRoom:
        return JanusRoom(self, meeting_id, self.place())

    def place(self) -> Instance:
        alive = [i for i in self.instances if i.alive] or self.instances
        load = {id(i): 0 for i in alive}
        for room in self.rooms.values():
            if id(room.instance) in load:
                load[id(room.instance)] += 1
        return min(alive, key=lambda i: load[id(i)])  # the first of the least loaded

    async def start(self) -> None:
        for instance, outcome in zip(
            self.instances,
            await asyncio.gather(*(i.connect() for i in self.instances), return_exceptions=True),
            strict=True,
        ):
            if isinstance(outcome, BaseException):
                log.warning("janus: %s does not answer (%s); trying again", instance.url, outcome)
        await super().start()

    def helpers(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self._keep(i), name=f"janus-keep-{i.url}") for i in self.instances]

    async def _keep(self, instance: Instance) -> None:
        """Connect to the instance again whenever it is lost; its meetings are lost with it."""
        while True:
            if not instance.alive:
                try:
                    await instance.connect()
                    log.info("janus: %s answers", instance.url)
                except Exception:
                    await asyncio.sleep(self.RECONNECT_S)
                    continue
            assert instance.session is not None
            await instance.session.lost.wait()
            log.warning("janus: lost %s; its meetings start anew elsewhere", instance.url)
            for meeting_id, room in list(self.rooms.items()):
                if room.instance is instance:
                    del self.rooms[meeting_id]
                    room.post(room.lost)
            await instance.close()

    async def stopped(self) -> None:
        for instance in self.instances:
            await instance.close()
