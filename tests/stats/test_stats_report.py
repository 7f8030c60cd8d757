"""The monthly statistics e-mail: opt-in for managers only, once a month for the month before,
through the outbox, with the figures as the page shows them and never a person."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select

from sip_service import demo
from sip_service.kit import clock
from sip_service.models.audit import AuditEvent
from sip_service.models.identity import Citizen, StaffMember
from sip_service.models.notify import MessageKind, OutboxMessage
from sip_service.stats import report

from conftest import GraphQLClient, Service, op


def _first_of_month(hour: int) -> datetime:
    today = clock.today()
    return datetime(today.year, today.month, 1, hour, tzinfo=clock.STOCKHOLM)


async def test_managers_opt_in_and_get_last_months_figures_once(gql: GraphQLClient, world: Service) -> None:
    await demo.history(world.db)
    answer = (await gql.raw(op("SetStatisticsReport"), {"receive": True}, as_="staff-anna")).json()
    assert answer["data"]["setStatisticsReport"]["__typename"] == "ForbiddenError"
    assert (await gql(op("StatisticsReport"), as_="staff-maja"))["statisticsReport"] == {
        "email": "maja.strom@sormark.example",
        "receives": False,
    }
    on = await gql(op("SetStatisticsReport"), {"receive": True}, as_="staff-maja")
    assert on["setStatisticsReport"] == {
        "__typename": "StatisticsReport",
        "email": "maja.strom@sormark.example",
        "receives": True,
    }

    assert report.report_month(_first_of_month(6), time(7)) is None  # not before the time of day
    assert (await report.run_once(world.db, public_url=world.url, now=_first_of_month(6))).queued == 0
    ran = await report.run_once(world.db, public_url=world.url, now=_first_of_month(8))
    assert (ran.looked_at, ran.queued) == (1, 1)  # Maja only: Henrik did not ask for it
    again = await report.run_once(world.db, public_url=world.url, now=_first_of_month(9))
    assert again.queued == 0  # once a month

    month = report.report_month(_first_of_month(8), time(7))
    async with world.db.read() as s:
        (mail,) = await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == MessageKind.REPORT))
        names = [c.name for c in await s.scalars(select(Citizen))]
        names += [m.name for m in await s.scalars(select(StaffMember)) if m.name != "Maja Ström"]
        audited = list(await s.scalars(select(AuditEvent).where(AuditEvent.action == "statistics.report")))
    assert mail.address == "maja.strom@sormark.example" and mail.staff_member_id and mail.participant_id is None
    assert f"SIP-statistik {month}" in mail.subject and "Region Sörmark" in mail.body
    assert "Vårdcentralen Lindö" in mail.body and "Planer påbörjade" in mail.body and "Plans started" in mail.body
    assert f"{world.url}/app/#/statistics" in mail.body
    assert [n for n in names if n in mail.body] == []
    assert [(e.actor_name, e.plan_id) for e in audited] == [("Maja Ström", None)]
