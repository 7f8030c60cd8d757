"""The same person joining from two tabs at once: both get in, one admission row is kept."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, func, select

from sip_service.models.meetings import Meeting, MeetingAdmission

from conftest import GraphQLClient, Service, op
from helpers import big_plan


async def test_two_tabs_joining_at_once_both_get_in(gql: GraphQLClient, world: Service) -> None:
    plan_id = await big_plan(world, relatives=0, goals=0, actions=0, meeting_count=1)
    async with world.db.read() as s:
        meeting_id = (await s.scalars(select(Meeting.id).where(Meeting.plan_id == plan_id))).one()
    for _ in range(3):  # a few rounds: the race is not hit every time
        async with world.db.write() as s:
            await s.execute(delete(MeetingAdmission))
        joins = await asyncio.gather(
            *(gql(op("JoinMeeting"), {"meetingId": str(meeting_id)}, as_="staff-anna") for _ in range(4))
        )
        assert [j["joinMeeting"]["state"] for j in joins] == ["IN_ROOM"] * 4, joins
        async with world.db.read() as s:
            rows = await s.scalar(
                select(func.count()).select_from(MeetingAdmission).where(MeetingAdmission.meeting_id == meeting_id)
            )
        assert rows == 1
