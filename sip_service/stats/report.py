"""The monthly statistics e-mail to managers who asked for it (opt-in), composed here and handed to
the outbox (`notify.service.enqueue`), in the pattern of the daily digest (`inbox/digest.py`).

From the first day of a month (at `Settings.digest_at`, Stockholm), each staff member who turned
it on (`staff_members.stats_report`, `setStatisticsReport`, which only a manager may do) and has a
work e-mail is looked at once for the month before (`stats_reports` records the month, claimed in
the row, so two processes send it once). The e-mail holds the care giver's figures for that month,
suppressed exactly as the page shows them ("< 5"), never a person: no names, no numbers but counts
and shares, no link to a plan. Each report is audited as a statistics read (`statistics.report`).

Roles come from the sign-in, not the database: turning the report on needs the manager role then;
whoever loses the role keeps getting the report until they (or an administrator) turn it off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.audit import service as audit
from sip_service.audit.service import Access
from sip_service.auth.principal import MANAGER, AuthMethod, Principal, StaffPrincipal
from sip_service.kit import clock
from sip_service.kit.db import Database
from sip_service.kit.errors import Forbidden
from sip_service.models.audit import AuditAccess
from sip_service.models.identity import StaffMember
from sip_service.models.notify import Channel, MessageKind
from sip_service.models.stats import StatsReport
from sip_service.notify.service import enqueue
from sip_service.stats import service

log = logging.getLogger("sip_service.notify")
ACTION = "statistics.report"


@dataclass(frozen=True)
class Setting:
    email: str | None
    receives: bool


async def setting(session: AsyncSession, principal: Principal) -> Setting:
    staff = service.require_manager(principal)
    member = await session.get(StaffMember, staff.staff_id)
    assert member is not None
    return Setting(member.email, member.stats_report and bool(member.email))


async def set_receives(session: AsyncSession, principal: Principal, *, receive: bool) -> Setting:
    staff = service.require_manager(principal)
    member = await session.get(StaffMember, staff.staff_id)
    assert member is not None
    if receive and not member.email:
        raise Forbidden("the report goes by work e-mail, and you have none")
    member.stats_report = receive
    await session.flush()
    return Setting(member.email, receive)


def report_month(now: datetime, at: time) -> str | None:
    """The month ('YYYY-MM') whose report may go out at `now`: the one before this Stockholm month,
    from `at` on its first day (and any time after); None before that."""
    local = now.astimezone(clock.STOCKHOLM)
    if local.day == 1 and local.time() < at:
        return None
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _n(v: int | None) -> str:
    return "< 5" if v is None else str(v)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{round(100 * v)} %"


def _days(v: float | None) -> str:
    return "–" if v is None else f"{v:g}"


def compose(name: str, answer: service.Statistics, month: str, link: str) -> tuple[str, str]:
    """The report as its reader gets it: Swedish, then English; counts and shares only."""
    rows_sv, rows_en = [], []
    for node in answer.nodes:
        f = next(x for x in answer.figures if x.node == node.key and x.period == month)
        c = f.counts
        label = node.name + (" (direkt)" if node.kind is service.NodeKind.DIRECT else "")
        label_en = node.name + (" (directly)" if node.kind is service.NodeKind.DIRECT else "")
        rows_sv.append(
            f"{label}\n"
            f"  Planer påbörjade: {_n(c['started'])}, fastställda: {_n(c['finalized'])}, avslutade: {_n(c['closed'])}\n"
            f"  SIP-möten: {_n(c['meetings'])}, patienten med: {_pct(f.patient_share)},"
            f" önskade närstående med: {_pct(f.relatives_share)}\n"
            f"  Utskrivningsklara: {_n(c['discharges'])}, möte kallat inom 3 dagar: {_pct(f.discharge_within_share)},"
            f" median {_days(f.discharge_median_days)} dagar\n"
            f"  Uppföljningar: {_n(c['follow_ups'])}, i tid: {_pct(f.follow_up_on_time_share)},"
            f" GAS T-värde: {_days(None if f.t_score is None else round(f.t_score, 1))}"
        )
        rows_en.append(
            f"{label_en}\n"
            f"  Plans started: {_n(c['started'])}, finalized: {_n(c['finalized'])}, closed: {_n(c['closed'])}\n"
            f"  SIP meetings: {_n(c['meetings'])}, patient took part: {_pct(f.patient_share)},"
            f" wanted relatives took part: {_pct(f.relatives_share)}\n"
            f"  Discharge notices: {_n(c['discharges'])}, meeting called within 3 days:"
            f" {_pct(f.discharge_within_share)}, median {_days(f.discharge_median_days)} days\n"
            f"  Follow-ups: {_n(c['follow_ups'])}, on time: {_pct(f.follow_up_on_time_share)},"
            f" GAS T-score: {_days(None if f.t_score is None else round(f.t_score, 1))}"
        )
    sv, en = "\n\n".join(rows_sv), "\n\n".join(rows_en)
    body = f"""Hej {name}!

SIP-statistik för {answer.title}, {month}:

{sv}

"< 5" betyder färre än fem personer, eller dolt så att en så liten grupp inte kan räknas fram.
Brevet säger aldrig något om en enskild person. Mer, med diagram och fler månader:
{link}

Du får brevet en gång i månaden eftersom du har bett om det. Vill du inte ha det längre?
Stäng av det på sidan Statistik i tjänsten.

-- In English --

Hello {name},

SIP statistics for {answer.title}, {month}:

{en}

"< 5" means fewer than five persons, or hidden so that such a small group cannot be worked out.
This e-mail never says anything about a single person. More, with charts and more months:
{link}

You get this e-mail once a month because you asked for it. Do not want it any more?
Turn it off on the Statistics page of the service.
"""
    return f"SIP-statistik {month} / SIP statistics {month}: {answer.title}", body


@dataclass
class ReportRun:
    looked_at: int = 0
    queued: int = 0


async def run_once(db: Database, *, public_url: str, at: time = time(7, 0), now: datetime | None = None) -> ReportRun:
    """Queue last month's report to each manager who asked for it and has not had it."""
    now = now or clock.now()
    result = ReportRun()
    month = report_month(now, at)
    if month is None:
        return result
    async with db.read() as session:
        stmt = (
            select(StaffMember, StatsReport.month)
            .outerjoin(StatsReport, StatsReport.staff_member_id == StaffMember.id)
            .where(
                StaffMember.stats_report.is_(True),
                StaffMember.email.is_not(None),
                StaffMember.email != "",
                (StatsReport.month.is_(None)) | (StatsReport.month < month),
            )
            .order_by(StaffMember.id)
        )
        due = [(member, last) for member, last in (await session.execute(stmt)).all()]
    link = f"{public_url.rstrip('/')}/app/#/statistics"
    for member, last in due:
        try:
            queued = await _one(db, member, last, month, now, link)
        except IntegrityError:  # another process claimed this person first
            continue
        if queued:
            result.looked_at += 1
            result.queued += 1
    return result


async def _one(db: Database, member: StaffMember, last: str | None, month: str, now: datetime, link: str) -> bool:
    """One manager in one unit of work: the month claimed, the figures read, the e-mail queued."""
    async with db.write() as session:
        if last is None:
            session.add(StatsReport(staff_member_id=member.id, month=month, sent_at=now))
            await session.flush()  # a row made meanwhile by another process: IntegrityError
        else:
            claimed = await session.execute(
                update(StatsReport)
                .where(StatsReport.staff_member_id == member.id, StatsReport.month < month)
                .values(month=month, sent_at=now)
            )
            if claimed.rowcount == 0:  # type: ignore[attr-defined]
                return False
        principal = StaffPrincipal(
            member.id, member.organisation_id, member.hsa_id, member.name, AuthMethod.SYSTEM, frozenset({MANAGER})
        )
        f = service.Filter(service.View.CARE_GIVER, None, month, month)
        today: date = now.astimezone(clock.STOCKHOLM).date()
        answer = await service.statistics(session, principal, f, now, today)
        await audit.append(session, principal, [Access(AuditAccess.READ, ACTION, None, None, f.detail())])
        assert member.email is not None
        subject, body = compose(member.name, answer, month, link)
        enqueue(
            session,
            participant_id=None,
            staff_member_id=member.id,
            meeting_id=None,
            kind=MessageKind.REPORT,
            channel=Channel.EMAIL,
            address=member.email,
            subject=subject,
            body=body,
            now=now,
        )
        log.info("statistics report for staff member %s queued (%s)", member.id, month)
        return True
