"""GraphQL for the statistics (managers, steering groups). No rules here: they live in stats/.

Every answer holds counts and summaries only; a count is null where it is hidden ("< 5": fewer
than five persons, or hidden so that no small group can be worked out). Each read is audited
(`statistics.read`, with the filter) before the answer leaves, and withheld if that fails.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from sip_service.api.context import Context
from sip_service.api.errors import AnyError, query_error, to_graphql
from sip_service.audit import service as audit
from sip_service.audit.service import Access
from sip_service.auth.principal import MANAGER, STEERING, StaffPrincipal
from sip_service.kit import clock
from sip_service.kit.errors import DomainError
from sip_service.models.audit import AuditAccess
from sip_service.stats import report, service
from sip_service.stats.service import LEVELS, REASONS

StatisticsView = strawberry.enum(
    service.View,
    name="StatisticsView",
    description="CARE_GIVER: your care giver and its units (managers). JOINT: your steering group's "
    "figures across its member organisations, as one (steering group members).",
)
StatisticsNodeKind = strawberry.enum(service.NodeKind, name="StatisticsNodeKind")

HIDDEN = "null: hidden (fewer than 5 persons, or hidden so that such a group cannot be worked out), shown as '< 5'."


@strawberry.type(name="StatisticsNode", description="An organisation, a care giver's plans held directly, or a group.")
class NodeType:
    key: str = strawberry.field(description="An organisation's id; '<id>:direct' for what it holds through no unit.")
    name: str
    kind: service.NodeKind
    parent: str | None


@strawberry.type(name="StatisticsReasonCount")
class ReasonCountType:
    reason: str = strawberry.field(description="A close reason: GOALS_MET, NO_LONGER_NEEDED, CONSENT_WITHDRAWN ….")
    count: int | None = strawberry.field(description=HIDDEN)


@strawberry.type(name="StatisticsLevelCount")
class LevelCountType:
    level: int = strawberry.field(description="Goal attainment: −2 much less … 0 as expected … +2 much more.")
    count: int | None = strawberry.field(description=HIDDEN)


@strawberry.type(name="StatisticsFigures", description="One node in one period (a month 'YYYY-MM' or a year 'YYYY').")
class FiguresType:
    _f: strawberry.Private[service.Figures]
    node: str
    period: str

    def __init__(self, f: service.Figures) -> None:
        self._f, self.node, self.period = f, f.node, f.period

    def _c(self, series: str) -> int | None:
        return self._f.counts[series]

    @strawberry.field(description="Plans started. " + HIDDEN)
    def started(self) -> int | None:
        return self._c("started")

    @strawberry.field(description="Plans finalized for the first time. " + HIDDEN)
    def finalized(self) -> int | None:
        return self._c("finalized")

    @strawberry.field(description="Plans closed. " + HIDDEN)
    def closed(self) -> int | None:
        return self._c("closed")

    @strawberry.field
    def closed_by_reason(self) -> list[ReasonCountType]:
        return [ReasonCountType(reason=r, count=self._c(f"closed.{r}")) for r in REASONS]

    @strawberry.field(description="SIP meetings held (planning and follow-up, not cancelled). " + HIDDEN)
    def meetings(self) -> int | None:
        return self._c("meetings")

    @strawberry.field(description="… of which the patient (or representative) took part in. " + HIDDEN)
    def meetings_with_patient(self) -> int | None:
        return self._c("meetings.patient")

    @strawberry.field(description="Share of SIP meetings the patient took part in (0–1).")
    def patient_share(self) -> float | None:
        return self._f.patient_share

    @strawberry.field(description="SIP meetings of plans where the patient wants relatives. " + HIDDEN)
    def meetings_with_relatives_wanted(self) -> int | None:
        return self._c("meetings.relatives_wanted")

    @strawberry.field(description="… of which every wanted relative took part in. " + HIDDEN)
    def meetings_with_relatives(self) -> int | None:
        return self._c("meetings.relatives")

    @strawberry.field(description="Share of those meetings where the relatives the patient wants took part.")
    def relatives_share(self) -> float | None:
        return self._f.relatives_share

    @strawberry.field(description="Discharge-ready notices (by the notice's month). " + HIDDEN)
    def discharges(self) -> int | None:
        return self._c("discharges")

    @strawberry.field(description="… after which a SIP meeting was called within 3 days. " + HIDDEN)
    def discharges_within_3_days(self) -> int | None:
        return self._c("discharges.within3")

    @strawberry.field(description="Share of notices with a SIP meeting called within 3 days.")
    def discharge_within_share(self) -> float | None:
        return self._f.discharge_within_share

    @strawberry.field(description="Median whole days from the notice to the SIP meeting being called.")
    def discharge_median_days(self) -> float | None:
        return self._f.discharge_median_days

    @strawberry.field(description="Follow-ups held that had a follow-up date. " + HIDDEN)
    def follow_ups(self) -> int | None:
        return self._c("follow_ups")

    @strawberry.field(description="… held on or before that date. " + HIDDEN)
    def follow_ups_on_time(self) -> int | None:
        return self._c("follow_ups.on_time")

    @strawberry.field(description="Share of follow-ups held on time.")
    def follow_up_on_time_share(self) -> float | None:
        return self._f.follow_up_on_time_share

    @strawberry.field(description="Goal ratings made at follow-ups. " + HIDDEN)
    def ratings(self) -> int | None:
        return self._c("ratings")

    @strawberry.field(description="Goal ratings at each level, −2 … +2.")
    def ratings_by_level(self) -> list[LevelCountType]:
        return [LevelCountType(level=level, count=self._c(f"ratings.{level}")) for level in LEVELS]

    @strawberry.field(description="Follow-ups with goals rated. " + HIDDEN)
    def rated_follow_ups(self) -> int | None:
        return self._c("rated_follow_ups")

    @strawberry.field(description="Mean GAS T-score of the rated follow-ups (50: as expected; Kiresuk & Sherman).")
    def t_score(self) -> float | None:
        return self._f.t_score

    @strawberry.field(description="Median whole days from the first SIP meeting to the plan's first finalization.")
    def final_median_days(self) -> float | None:
        return self._f.final_median_days


@strawberry.type(name="Statistics", description="Aggregates only: no person, no plan.")
class StatisticsType:
    _s: strawberry.Private[service.Statistics]
    view: service.View
    title: str
    months: list[str]
    years: list[str] = strawberry.field(description="The calendar years of the months; their totals are figures too.")
    first_month: str = strawberry.field(description="The earliest month one may choose.")
    last_month: str = strawberry.field(description="The latest month one may choose.")

    def __init__(self, s: service.Statistics) -> None:
        self._s, self.view, self.title, self.months, self.years = s, s.view, s.title, s.months, s.years
        self.first_month, self.last_month = s.available

    @strawberry.field(description="The chosen node first, then its units and what it holds directly.")
    def nodes(self) -> list[NodeType]:
        return [NodeType(key=n.key, name=n.name, kind=n.kind, parent=n.parent) for n in self._s.nodes]

    @strawberry.field
    def figures(self) -> list[FiguresType]:
        return [FiguresType(f) for f in self._s.figures]

    @strawberry.field(description="The figures as CSV (semicolon-separated; hidden counts as '< 5').")
    def csv(self) -> str:
        return service.to_csv(self._s)


@strawberry.type(name="StatisticsReport", description="The monthly statistics e-mail (managers; opt-in).")
class ReportType:
    email: str | None
    receives: bool


@strawberry.type
class StatisticsQuery:
    @strawberry.field(
        description="The statistics views you may open: none unless you are a manager or in a steering group."
    )
    def statistics_views(self, info: Info[Context, None]) -> list[service.View]:
        p = info.context.principal
        if not isinstance(p, StaffPrincipal):
            return []
        return [
            v for v, role in ((service.View.CARE_GIVER, MANAGER), (service.View.JOINT, STEERING)) if role in p.roles
        ]

    @strawberry.field(
        description="Statistics of your care giver (managers) or steering group (JOINT). `node`: an organisation "
        "of the view (default: all of it); months 'YYYY-MM' (default: the last 12). Audited. The view's "
        "figures, once counted, serve the next filter for a few minutes (SIP_STATISTICS_CACHE_SECONDS)."
    )
    async def statistics(
        self,
        info: Info[Context, None],
        view: service.View = service.View.CARE_GIVER,
        node: str | None = None,
        first_month: str | None = None,
        last_month: str | None = None,
    ) -> StatisticsType:
        ctx = info.context
        f = service.Filter(view, node, first_month, last_month)
        try:
            async with ctx.db.read() as session:  # its own: the statistics tune their transaction
                answer = await service.statistics(session, ctx.principal, f, clock.now(), ctx.today, ctx.lattices)
        except DomainError as exc:
            raise query_error(exc) from None
        ctx.reads.other(Access(AuditAccess.READ, service.ACTION, None, None, f.detail()))
        return StatisticsType(answer)

    @strawberry.field(description="Managers: the monthly statistics e-mail.")
    async def statistics_report(self, info: Info[Context, None]) -> ReportType:
        ctx = info.context
        try:
            async with ctx.read_session.session() as session:
                s = await report.setting(session, ctx.principal)
        except DomainError as exc:
            raise query_error(exc) from None
        return ReportType(email=s.email, receives=s.receives)


StatisticsReportResult = Annotated[ReportType | AnyError, strawberry.union("StatisticsReportResult")]


@strawberry.type
class StatisticsMutation:
    @strawberry.mutation(description="Managers: whether you want the monthly statistics e-mail (aggregates only).")
    async def set_statistics_report(self, info: Info[Context, None], receive: bool) -> StatisticsReportResult:
        ctx = info.context
        try:
            async with ctx.db.write() as session:
                s = await report.set_receives(session, ctx.principal, receive=receive)
                await audit.append(session, ctx.principal, [Access(AuditAccess.WRITE, info.field_name, None, None)])
        except DomainError as exc:
            return to_graphql(exc)
        await ctx.after_write()
        return ReportType(email=s.email, receives=s.receives)
