"""Building plans quickly through the service layer, for tests that need many of them; plans with
video meetings and invite links; websockets signed in as the browser does (graphql-transport-ws);
waiting for a condition with a deadline; another instance of the service beside the shared one."""

from __future__ import annotations

import asyncio
import email
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from socket import create_server
from typing import Any, TypeVar

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect

from sip_service.app import create_app
from sip_service.auth.principal import CitizenPrincipal, StaffPrincipal
from sip_service.kit import clock
from sip_service.kit.pubsub import Broker
from sip_service.meetings import service as meetings
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.meetings import InvitationChannel, MeetingKind
from sip_service.models.plans import Participant, ParticipantKind, Plan, RepresentativeKind
from sip_service.notify.senders import Outgoing
from sip_service.plans import service as plans
from sip_service.plans.rules import Code

from conftest import SHUTDOWN_S, GraphQLClient, Service, op, started

# What a new plan with no relatives lacks: every readiness rule but inviting the relatives.
ALL_BUT_INVITED = {c.value for c in Code} - {Code.RELATIVES_INVITED.value}

# How long a test waits for what it needs (an answer, an event, a state) before it fails. Generous:
# on a busy machine a step that takes milliseconds may take seconds; a passing test never waits it out.
WAIT_S = 30.0

T = TypeVar("T")


async def within(step: Awaitable[T], what: str, seconds: float = WAIT_S) -> T:
    """`step`'s result, or a failure naming what the test waited for."""
    try:
        return await asyncio.wait_for(step, seconds)
    except TimeoutError:
        raise AssertionError(f"waited {seconds:g} s for {what}") from None


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = WAIT_S) -> None:
    """Return once `condition()` holds (checked every 10 ms); fail naming it after `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"waited {seconds:g} s for {what}")
        await asyncio.sleep(0.01)


async def staff(service: Service, first_name: str) -> StaffPrincipal:
    async with service.db.read() as s:
        m = (await s.scalars(select(StaffMember).where(StaffMember.name.startswith(first_name)))).one()
    return StaffPrincipal(m.id, m.organisation_id, m.hsa_id, m.name)


async def citizen_id(service: Service, first_name: str) -> uuid.UUID:
    async with service.db.read() as s:
        return (await s.scalars(select(Citizen.id).where(Citizen.name.startswith(first_name)))).one()


async def add_family(s: AsyncSession, world: Service, anna: StaffPrincipal, plan: Plan) -> Plan:
    """Elsa's son Per and daughter Lena as relatives (the patient has not chosen them yet) and Maria
    as her god man, added to `plan` by Anna; the plan as it is afterwards."""
    for who, kind in (
        ("Per", ParticipantKind.RELATIVE),
        ("Lena", ParticipantKind.RELATIVE),
        ("Maria", ParticipantKind.REPRESENTATIVE),
    ):
        plan = await plans.editable_plan(s, anna, plan.id, plan.version)
        await plans.add_participant(
            s,
            anna,
            plan.id,
            plan.version,
            plans.NewParticipant(
                kind,
                citizen_id=await citizen_id(world, who),
                representative_kind=RepresentativeKind.GOD_MAN if kind is ParticipantKind.REPRESENTATIVE else None,
            ),
        )
        await s.flush()
    return plan


async def big_plan(
    service: Service, *, relatives: int, goals: int, actions: int, meeting_count: int, patient: str = "Elsa"
) -> uuid.UUID:
    """A plan with the patient, two staff, `relatives` relatives (all chosen by the patient), goals,
    actions and meetings."""
    anna, johan = await staff(service, "Anna"), await staff(service, "Johan")
    patient_id = await citizen_id(service, patient)
    async with service.db.write() as s:
        plan = await plans.create_plan(  # tests make several plans for one patient
            s,
            anna,
            patient_id=patient_id,
            follow_up_date=clock.today() + timedelta(days=30),
            allow_another_open_plan=True,
        )
        await s.flush()
        await plans.add_participant(
            s, anna, plan.id, plan.version, plans.NewParticipant(ParticipantKind.STAFF, staff_member_id=johan.staff_id)
        )
        for i in range(relatives):
            await s.flush()
            await plans.add_participant(
                s,
                anna,
                plan.id,
                plan.version,
                plans.NewParticipant(
                    ParticipantKind.RELATIVE, citizen=plans.NewCitizen(f"1970010{i:05d}"[:12], f"Närstående {i}")
                ),
            )
        await s.flush()
        await plans.record_consent(
            s,
            anna,
            plan.id,
            plan.version,
            given_by_id=plan.participants[0].id,
            organisation_ids=[anna.organisation_id, johan.organisation_id],
        )
        if relatives:  # the patient chooses them all, so that they may be invited (participation.takes_part)
            await s.flush()
            chosen = [p.id for p in plan.participants if p.kind is ParticipantKind.RELATIVE]
            await plans.record_relatives_decision(
                s, CitizenPrincipal(patient_id, patient), plan.id, plan.version, chosen
            )
        for i in range(goals):
            await s.flush()
            await plans.add_goal(
                s, anna, plan.id, plan.version, goal_text=f"Mål {i}", expressed_by_id=plan.participants[0].id
            )
        for i in range(actions):
            await s.flush()
            await plans.add_action(
                s,
                anna,
                plan.id,
                plan.version,
                plans.ActionDetails(description=f"Insats {i}", responsible_org_id=anna.organisation_id),
            )
        for i in range(meeting_count):
            await s.flush()
            start = clock.now() + timedelta(days=i + 1)
            m = await meetings.schedule_meeting(
                s, anna, plan.id, kind=MeetingKind.VIDEO, starts_at=start, ends_at=start + timedelta(hours=1)
            )
            await s.flush()
            await meetings.invite(s, anna, m.id, m.version, [p.id for p in plan.participants], InvitationChannel.EMAIL)
        return plan.id


async def plan_added_to(world: Service, *, consent: bool, patient: str = "Elsa") -> uuid.UUID:
    """Anna's new plan for the patient, with Johan (another organisation) added; consent for both if
    asked (the inbox: Johan finds it as new only once consent covers his organisation)."""
    anna, johan = await staff(world, "Anna"), await staff(world, "Johan")
    async with world.db.write() as s:
        plan = await plans.create_plan(
            s, anna, patient_id=await citizen_id(world, patient), follow_up_date=clock.today() + timedelta(days=30),
            allow_another_open_plan=True,
        )  # fmt: skip
        await s.flush()
        await plans.add_participant(
            s, anna, plan.id, plan.version, plans.NewParticipant(ParticipantKind.STAFF, staff_member_id=johan.staff_id)
        )
        if consent:
            await s.flush()
            await consent_for_both(s, world, plan.id)
        return plan.id


async def consent_for_both(s: AsyncSession, world: Service, plan_id: uuid.UUID) -> None:
    """The patient's consent, written down by Anna, for Anna's and Johan's organisations."""
    anna, johan = await staff(world, "Anna"), await staff(world, "Johan")
    current = await s.get(Plan, plan_id)
    assert current is not None
    plan = await plans.editable_plan(s, anna, plan_id, current.version)
    patient = next(p for p in plan.participants if p.kind is ParticipantKind.PATIENT)
    await plans.record_consent(
        s, anna, plan_id, plan.version, given_by_id=patient.id,
        organisation_ids=[anna.organisation_id, johan.organisation_id],
    )  # fmt: skip


async def busy_plan(world: Service, patient: str = "Elsa") -> uuid.UUID:
    """The patient's plan (Anna coordinates, Johan takes part, consent for both) with a meeting tomorrow to
    which everyone is invited, and actions: Anna's organisation's due in 3 days, overdue since
    yesterday, due in a month; Johan's due tomorrow; a discharge notice given after the meeting."""
    plan_id = await big_plan(world, relatives=0, goals=1, actions=0, meeting_count=1, patient=patient)
    anna, johan = await staff(world, "Anna"), await staff(world, "Johan")
    today = clock.today()
    async with world.db.write() as s:
        for who, days in ((anna, 3), (anna, -1), (anna, 30), (johan, 1)):
            plan = await s.get(Plan, plan_id)
            assert plan is not None
            plan = await plans.editable_plan(s, who, plan_id, plan.version)
            details = plans.ActionDetails(
                description=f"Insats om {days} dagar",
                responsible_org_id=who.organisation_id,
                responsible_person=who.name,
                due_date=today + timedelta(days=days),
            )
            await plans.add_action(s, who, plan_id, plan.version, details)
            await s.flush()
        await s.execute(update(Plan).where(Plan.id == plan_id).values(discharge_ready_at=clock.now()))
    return plan_id


async def schedule_video_meeting(gql: Any, plan_id: object, start: datetime) -> dict[str, Any]:
    """A one-hour VIDEO planning meeting, scheduled over GraphQL by Anna."""
    variables = {
        "planId": str(plan_id),
        "input": {"kind": "VIDEO", "startsAt": start.isoformat(), "endsAt": (start + timedelta(hours=1)).isoformat()},
    }
    meeting: dict[str, Any] = (await gql(op("ScheduleMeeting"), variables, as_="staff-anna"))["scheduleMeeting"]
    return meeting


@dataclass
class Setup:
    plan_id: str
    patient: str
    relative: str
    staff: str
    meetings: list[dict[str, Any]]


async def plan_with_meetings(
    gql: GraphQLClient, world: Service, *starts_in: timedelta, invite_relative: bool = True
) -> Setup:
    """Elsa's plan with a relative and two staff; video meetings starting `starts_in` from now (an
    hour long), to which the patient (and the relative) are invited."""
    plan_id = await big_plan(world, relatives=1, goals=0, actions=0, meeting_count=0)
    async with world.db.read() as s:
        people = {p.kind: str(p.id) for p in await s.scalars(select(Participant).where(Participant.plan_id == plan_id))}
    setup = Setup(
        str(plan_id),
        people[ParticipantKind.PATIENT],
        people[ParticipantKind.RELATIVE],
        people[ParticipantKind.STAFF],
        [],
    )
    invited = [setup.patient, setup.staff] + ([setup.relative] if invite_relative else [])
    for delta in starts_in:
        start = datetime.now(UTC) + delta
        meeting = await schedule_video_meeting(gql, setup.plan_id, start)
        variables = {
            "meetingId": meeting["id"],
            "expectedVersion": meeting["version"],
            "participantIds": invited,
            "channel": "SMS",
        }
        setup.meetings.append((await gql(op("InviteToMeeting"), variables, as_="staff-anna"))["inviteToMeeting"])
    return setup


async def issue(
    gql: GraphQLClient, setup: Setup, participant: str, *, meeting: int = 0, as_: str = "staff-anna"
) -> dict[str, Any]:
    m = setup.meetings[meeting]
    variables = {"meetingId": m["id"], "expectedVersion": m["version"], "participantId": participant}
    result: dict[str, Any] = (await gql(op("IssueInviteLink"), variables, as_=as_))["issueInviteLink"]
    if "url" in result:
        setup.meetings[meeting] = result["meeting"]  # the meeting's version moved on
    return result


def token_of(url: str) -> str:
    return url.split("#t=", 1)[1]


class Socket:
    """One signed-in websocket; operations and subscriptions by id, answers routed to each."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.inbox: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._next = 0
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message:
                self.inbox.setdefault(message["id"], asyncio.Queue()).put_nowait(message)

    def _start(self, query: str, variables: dict[str, Any]) -> str:
        self._next += 1
        sid = str(self._next)
        self.inbox[sid] = asyncio.Queue()
        return sid

    async def run(self, name: str, **variables: Any) -> Any:
        """A query or mutation; its one result field."""
        sid = self._start(op(name), variables)
        await self.ws.send(
            json.dumps({"type": "subscribe", "id": sid, "payload": {"query": op(name), "variables": variables}})
        )
        message = await within(self.inbox[sid].get(), f"the answer to {name}")
        assert message["type"] == "next" and "errors" not in message["payload"], message
        return next(iter(message["payload"]["data"].values()))

    async def events(self, meeting_id: str) -> Events:
        sid = self._start("", {})
        payload = {"query": op("MeetingEvents"), "variables": {"meetingId": meeting_id}}
        await self.ws.send(json.dumps({"type": "subscribe", "id": sid, "payload": payload}))
        return Events(self.inbox[sid])

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


class Events:
    def __init__(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.queue = queue

    async def next(self) -> dict[str, Any]:
        message = await within(self.queue.get(), "the next meeting event")
        assert message["type"] == "next" and "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]["meetingEvents"]
        return event

    async def expect(self, kind: str) -> dict[str, Any]:
        event = await self.next()
        assert event["kind"] == kind, event
        return event


@asynccontextmanager
async def signed_in(url: str, bearer: str) -> AsyncIterator[Socket]:
    async with connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=WAIT_S,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {bearer}"}}))
        assert json.loads(await within(ws.recv(), "connection_ack")) == {"type": "connection_ack"}
        socket = Socket(ws)
        try:
            yield socket
        finally:
            await socket.close()


async def guest_token(gql: GraphQLClient, setup: Setup, participant: str, meeting: int = 0) -> str:
    issued = await issue(gql, setup, participant, meeting=meeting)
    exchanged = await gql.http.post("/auth/invite", json={"token": token_of(issued["url"])})
    assert exchanged.status_code == 200, exchanged.text
    token: str = exchanged.json()["meetingToken"]
    return token


async def subscribed(socket: Socket, meeting_id: str) -> Events:
    events = await socket.events(meeting_id)
    await events.expect("SUBSCRIBED")
    return events


REDIS_URL = os.environ["SIP_TEST_REDIS_URL"]  # conftest: the shared Redis or one of its own


@dataclass
class Instance:
    url: str
    app: FastAPI

    @property
    def broker(self) -> Broker:
        """Where this instance's live events go: tests ask it who is subscribed."""
        broker: Broker = self.app.state.live.broker
        return broker


@asynccontextmanager
async def serving(world: Service, host: str = "127.0.0.1", **settings_changed: Any) -> AsyncIterator[Instance]:
    """Another instance of the service on the same database (and its write lock), with no outbox
    worker; its events stay in this process unless `redis_url` is given."""
    settings = world.settings.model_copy(update={"notify_interval_s": 0} | settings_changed)
    app = create_app(settings, world.db)
    listener = create_server((host, 0))  # bound here: no race for a "free" port
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=SHUTDOWN_S)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await started(server, task, WAIT_S)
        yield Instance(f"http://{host}:{port}", app)
    finally:
        server.should_exit = True
        await task
        await app.state.live.broker.close()
        listener.close()


@asynccontextmanager
async def instance(world: Service, **settings_changed: Any) -> AsyncIterator[str]:
    """Another process of the service on the same database, with events over Redis."""
    async with serving(world, **({"redis_url": REDIS_URL} | settings_changed)) as running:
        yield running.url


# ---- messages: a real SMTP server on loopback, and SMS as the sender was given them ----------


class Recorder:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(email.message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class Smtp:
    """An SMTP server (aiosmtpd) that can be stopped and started again on the same port."""

    port: int
    recorder: Recorder = field(default_factory=Recorder)
    controller: Controller | None = None

    def start(self) -> None:
        # aiosmtpd gives its thread 5 s to answer by default ("the system is too busy"); we wait longer.
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, ready_timeout=WAIT_S)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def mails(self) -> list[EmailMessage]:
        return self.recorder.mails


class RecordingSms:
    """An SMS provider that keeps what it was given (there is no real one to run in a test)."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)
