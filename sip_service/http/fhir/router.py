"""HTTP: the FHIR R4 read API at /fhir (JSON, `application/fhir+json`).

Who may read what is the readable scope (`plans.repository.readable_condition`, through the
repository's loads), exactly as for GraphQL — a record system's client-credentials token (a
`SystemPrincipal`, bound to one organisation) reads as that organisation's staff, and only the types
its `system/<Type>.read` scopes name (403 otherwise; included resources of other types are left
out). Anything else answers 404, the same as an id that does not exist. Every answer's reads are
written to the audit trail through `usecases.record_reads` (the path GraphQL's reads take) before
the answer leaves; if that fails the answer is withheld (503). Errors are OperationOutcomes in
Swedish and English, never a stack trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service import usecases
from sip_service.audit.service import Access
from sip_service.auth.principal import GuestPrincipal, Principal, SystemPrincipal
from sip_service.http.fhir import resources as fhir
from sip_service.http.fhir import subscriptions
from sip_service.identity import repository as identity_repo
from sip_service.kit import clock, jsonenc
from sip_service.kit.db import Database
from sip_service.kit.errors import Invalid
from sip_service.kit.outage import is_outage
from sip_service.models.audit import AuditAccess
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.models.meetings import Meeting
from sip_service.models.plans import Consent, Goal, Participant, Plan, PlanStatus, Revision
from sip_service.plans import policy
from sip_service.plans import repository as plans_repo
from sip_service.plans import service as plans_service
from sip_service.settings import Settings

logger = logging.getLogger(__name__)
_HEADERS = {"Cache-Control": "no-store"}  # plan data is never kept by a cache on the way
DEFAULT_COUNT = 20
Authorization = Annotated[str | None, Header()]  # the bearer token (module level: FastAPI resolves it by name)

# CarePlan.status (search) → the plans' statuses; the other codes of the value set match no plan.
STATUS_SEARCH = {
    code: [s for s, c in fhir.CAREPLAN_STATUS.items() if c == code]
    for code in ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
}
SEARCH_PARAMS = {"subject:identifier", "status", "_count", "_cursor", "_format", "_include", "_lastUpdated"}
REPEATABLE = {"_include", "_lastUpdated"}  # _lastUpdated twice: a range (ge… and lt…)
JSON_FORMATS = {"json", fhir.MEDIA_TYPE, "application/json"}


class Outcome(Exception):
    """An answer that is an OperationOutcome: the HTTP status, FHIR's issue code, and the words."""

    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text


def not_found(type_: str, id_: str) -> Outcome:
    # The same words whether it does not exist or the caller may not see it.
    return Outcome(404, "not-found", f"{type_}/{id_} finns inte. / {type_}/{id_} was not found.")


def bad_search(sv: str, en: str) -> Outcome:
    return Outcome(400, "invalid", f"{sv} / {en}")


def fhir_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        jsonenc.dumps(body),
        status_code=status,
        media_type=f"{fhir.MEDIA_TYPE}; charset=utf-8",
        headers=_HEADERS | (headers or {}),
    )


@dataclass
class Answer:
    body: object
    reads: list[Access]
    version: str | None = None  # a versioned resource's versionId: the ETag W/"<vid>"


IfNoneMatch = Annotated[str | None, Header()]


def etag(version: str) -> str:
    return f'W/"{version}"'


def matches(if_none_match: str | None, version: str) -> bool:
    """If-None-Match names this version (weak or strong, one of a list, or *)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")]
    return "*" in tags or version in tags


def may_read(principal: Principal, type_: str) -> bool:
    """People read by the readable scope alone; a system client also needs a scope for the type."""
    return not isinstance(principal, SystemPrincipal) or principal.may(type_)


def plan_read(plan: Plan) -> Access:
    return Access(AuditAccess.READ, "plan.read", plan.id, plan.patient_id)  # as a GraphQL plan read


def patient_read(citizen_id: uuid.UUID) -> Access:
    return Access(AuditAccess.READ, "patient.read", None, citizen_id)  # as the Patient read


async def plan_views(
    session: AsyncSession, principal: Principal, today: date, ids: list[uuid.UUID]
) -> list[fhir.PlanView]:
    """The plans (those of `ids` the principal may read, in that order) with what their resources
    name: a fixed number of statements however many plans."""
    found = await plans_repo.load_aggregates(session, principal, today, ids)
    plans = [found[i] for i in ids if i in found]
    if not plans:
        return []
    rosters = await plans_repo.participants_of(session, principal, today, [p.id for p in plans])
    org_ids = {p.overall_responsible_org_id for p in plans} | {a.responsible_org_id for p in plans for a in p.actions}
    org_ids |= {x.organisation_id for p in plans for x in p.participants}
    org_ids |= {p.created_by_org_id for p in plans if p.created_by_staff_id is None}  # the author (a notice's plan)
    revisions = await plans_repo.revisions_of(session, [p.id for p in plans])
    staff_ids = {p.created_by_staff_id for p in plans} | {x.staff_member_id for p in plans for x in p.participants}
    staff_ids |= {c.recorded_by_staff_id for p in plans for c in p.consents}
    staff_ids |= {m.created_by_staff_id for p in plans for m in p.meetings}
    staff_ids |= {a.attested_by_staff_id for p in plans for m in p.meetings for a in m.attendances}
    staff_ids |= {r.finalized_by_staff_id for rs in revisions.values() for r in rs}
    org_ids |= {o.organisation_id for p in plans for c in p.consents for o in c.organisations}
    patient_ids = [p.patient_id for p in plans]
    orgs = await identity_repo.by_ids(session, Organisation, [i for i in org_ids if i])
    staff = await identity_repo.by_ids(session, StaffMember, [i for i in staff_ids if i])
    patients = await identity_repo.by_ids(session, Citizen, patient_ids)
    care = await plans_repo.care_organisations_of(session, patient_ids)
    views = []
    for p in plans:
        roster = rosters.get(p.id) or plans_repo.Roster()
        everyone = [*roster.current, *roster.removed]
        names = {n.participant.id: n.name for n in everyone}
        people = {n.participant.id: n.participant for n in everyone}
        shown = policy.sees_personal_number(principal, p.patient_id, care.get(p.patient_id, set()))
        in_force = plans_service.active_consent(p, today)
        patient = patients[p.patient_id]
        contact = policy.sees_contact(
            principal, p.patient_id, patient.protected_identity, care.get(p.patient_id, set())
        )
        views.append(
            fhir.PlanView(
                p,
                patient,
                names,
                orgs,
                staff,
                shown,
                people,
                revisions.get(p.id, []),
                in_force.id if in_force else None,
                contact,
            )
        )
    return views


@dataclass(frozen=True)
class Kit:
    """What a module adding routes under /fhir (an extension of `fhir_router`) builds on."""

    base: str  # the address of /fhir
    db: Database
    settings: Settings
    # the caller of an Authorization header, or the OperationOutcome answer (401, or 403 for a guest)
    caller: Callable[[str | None], Awaitable[Principal | Response]]
    # a read: the caller, the type's scope, a read session, the audit of its reads, the errors
    answer: Callable[..., Awaitable[Response]]
    outcome_response: Callable[..., Response]


Extension = Callable[[APIRouter, Kit], None]


def fhir_router(
    settings: Settings,
    db: Database,
    principal_of: Callable[[str | None], Awaitable[Principal]],
    extensions: Sequence[Extension] = (),
) -> APIRouter:
    """Mount at /fhir. `principal_of` turns an Authorization header into the caller (as for GraphQL);
    each of `extensions` adds routes of its own (`Kit`)."""
    router = APIRouter(tags=["fhir"])
    base = f"{settings.public_url.rstrip('/')}/fhir"

    async def caller(authorization: str | None) -> Principal | Response:
        try:
            principal = await principal_of(authorization)
        except HTTPException as exc:
            if exc.status_code != 401:
                raise
            why = exc.detail.get("message") if isinstance(exc.detail, dict) else None
            return outcome_response(
                Outcome(
                    401, "login", f"Logga in: skicka en giltig bearer-token. / {why or 'Sign in: send a bearer token.'}"
                ),
                {"WWW-Authenticate": "Bearer"},
            )
        if isinstance(principal, GuestPrincipal):  # a meeting link's token is for its meeting only
            return outcome_response(
                Outcome(403, "forbidden", "En möteslänk ger ingen åtkomst hit. / A meeting link gives no access here.")
            )
        return principal

    async def answer(
        type_: str,
        authorization: str | None,
        make: Callable[[Principal, AsyncSession], Awaitable[Answer]],
        if_none_match: str | None = None,
    ) -> Response:
        principal = await caller(authorization)
        if isinstance(principal, Response):
            return principal
        if not may_read(principal, type_):
            return outcome_response(
                Outcome(
                    403,
                    "forbidden",
                    f"Systemklientens token saknar scope system/{type_}.read. / "
                    f"The system client's token has no scope system/{type_}.read.",
                )
            )
        try:
            async with db.read() as session:
                result = await make(principal, session)
        except Outcome as exc:
            return outcome_response(exc)
        except Exception as exc:
            if is_outage(exc):
                raise  # the database is unreachable: 503 (http.outage), logged once per outage
            logger.exception("FHIR request failed")
            return outcome_response(
                Outcome(500, "exception", "Något gick fel i tjänsten. / Something went wrong in the service.")
            )
        try:
            await usecases.record_reads(db, principal, result.reads)
        except Exception as exc:
            if is_outage(exc):
                raise
            logger.exception("audit trail write failed; the FHIR answer is withheld")
            return outcome_response(
                Outcome(503, "transient", "Åtkomsten kunde inte loggas. / The access could not be logged.")
            )
        if result.version is None:
            return fhir_response(result.body)
        headers = {"ETag": etag(result.version)}
        if matches(if_none_match, result.version):  # the caller has this version: read (and logged), not sent
            return Response(status_code=304, headers=_HEADERS | headers)
        return fhir_response(result.body, headers=headers)

    def outcome_response(exc: Outcome, headers: dict[str, str] | None = None) -> Response:
        return fhir_response(fhir.operation_outcome(exc.code, exc.text), exc.status, headers)

    def parse_id(type_: str, id_: str) -> uuid.UUID:
        try:
            return uuid.UUID(id_)
        except ValueError:
            raise not_found(type_, id_) from None

    @router.get("/metadata")
    async def metadata() -> Response:
        """The CapabilityStatement; like any FHIR server's, it needs no sign-in."""
        return fhir_response(fhir.capability_statement(base))

    @router.get("/CarePlan/{id_}")
    async def read_care_plan(
        id_: str, authorization: Authorization = None, if_none_match: IfNoneMatch = None
    ) -> Response:
        async def make(principal: Principal, session: AsyncSession) -> Answer:
            views = await plan_views(session, principal, clock.today(), [parse_id("CarePlan", id_)])
            if not views:
                raise not_found("CarePlan", id_)
            body = fhir.care_plan(views[0])
            return Answer(body, [plan_read(views[0].plan)], body["meta"]["versionId"])

        return await answer("CarePlan", authorization, make, if_none_match)

    @router.get("/CarePlan/{id_}/_history/{vid}")
    async def read_care_plan_version(
        id_: str, vid: str, authorization: Authorization = None, if_none_match: IfNoneMatch = None
    ) -> Response:
        """A version: the current one, or a finalized revision (a plan's other versions are not kept)."""

        async def make(principal: Principal, session: AsyncSession) -> Answer:
            views = await plan_views(session, principal, clock.today(), [parse_id("CarePlan", id_)])
            if not views:
                raise not_found("CarePlan", id_)
            body = fhir.care_plan_version(views[0], vid)
            if body is None:
                raise not_found("CarePlan", f"{id_}/_history/{vid}")
            return Answer(body, [plan_read(views[0].plan)], vid)

        return await answer("CarePlan", authorization, make, if_none_match)

    @router.get("/CareTeam/{id_}")
    async def read_care_team(id_: str, authorization: Authorization = None) -> Response:
        async def make(principal: Principal, session: AsyncSession) -> Answer:
            views = await plan_views(session, principal, clock.today(), [parse_id("CareTeam", id_)])
            if not views:
                raise not_found("CareTeam", id_)
            return Answer(fhir.care_team(views[0]), [plan_read(views[0].plan)])

        return await answer("CareTeam", authorization, make)

    async def plan_child(
        session: AsyncSession,
        principal: Principal,
        type_: str,
        id_: str,
        model: type[plans_repo.PlanChild],
        pick: Callable[[fhir.PlanView, uuid.UUID], Any],
    ) -> tuple[fhir.PlanView, Any]:
        """A plan's part by its id: found through the plan, which the readable scope decides."""
        child_id = parse_id(type_, id_)
        plan_id = await plans_repo.plan_id_of(session, model, child_id)
        views = await plan_views(session, principal, clock.today(), [plan_id] if plan_id else [])
        found = pick(views[0], child_id) if views else None
        if found is None:
            raise not_found(type_, id_)
        return views[0], found

    @router.get("/CarePlan/{id_}/$everything")
    async def care_plan_everything(request: Request, id_: str, authorization: Authorization = None) -> Response:
        """One plan and all it names, as a searchset Bundle (the CarePlan the match, the rest included)."""

        async def make(principal: Principal, session: AsyncSession) -> Answer:
            for name, value in request.query_params.multi_items():
                if name != "_format" or value not in JSON_FORMATS:
                    raise bad_search(
                        f"$everything tar inga parametrar ({name!r}).", f"$everything takes no parameters ({name!r})."
                    )
            views = await plan_views(session, principal, clock.today(), [parse_id("CarePlan", id_)])
            if not views:
                raise not_found("CarePlan", id_)
            [first, *rest] = fhir.everything(views[0])
            rest = [r for r in rest if may_read(principal, r["resourceType"])]
            self_url = f"{base}/CarePlan/{id_}/$everything"
            body = fhir.searchset(base, [first], self_url, None, rest)
            reads = [plan_read(views[0].plan)]
            if may_read(principal, "Patient"):
                reads.append(patient_read(views[0].plan.patient_id))
            return Answer(body, reads)

        return await answer("CarePlan", authorization, make)

    def child_route(
        type_: str,
        model: type[plans_repo.PlanChild],
        pick: Callable[[fhir.PlanView, uuid.UUID], Any],
        to_resource: Callable[[fhir.PlanView, Any], fhir.Json],
    ) -> None:
        """GET /<type_>/{id}: a part of a plan (`pick` finds it in the plan's view), read as the plan is."""

        async def read_child(id_: str, authorization: Authorization = None) -> Response:
            async def make(principal: Principal, session: AsyncSession) -> Answer:
                view, found = await plan_child(session, principal, type_, id_, model, pick)
                return Answer(to_resource(view, found), [plan_read(view.plan)])

            return await answer(type_, authorization, make)

        router.add_api_route(f"/{type_}/{{id_}}", read_child, methods=["GET"], name=f"read_{type_}")

    child_route("Goal", Goal, lambda v, i: next((g for g in v.plan.goals if g.id == i), None), fhir.goal)
    child_route("Consent", Consent, lambda v, i: next((c for c in v.plan.consents if c.id == i), None), fhir.consent)
    child_route(
        "Appointment", Meeting, lambda v, i: next((m for m in v.plan.meetings if m.id == i), None), fhir.appointment
    )
    child_route("Provenance", Revision, lambda v, i: next((r for r in v.revisions if r.id == i), None), fhir.provenance)
    child_route(  # a staff member's part in a plan: as long as they are on its CareTeam
        "PractitionerRole",
        Participant,
        lambda v, i: next((p for p in fhir.staff_roles(v) if p.id == i), None),
        fhir.practitioner_role,
    )

    @router.get("/Practitioner/{id_}")
    async def read_practitioner(id_: str, authorization: Authorization = None) -> Response:
        """A staff member, to whoever may read a CareTeam they are on (the readable scope decides, as
        for the plan). Names no plan and no patient, and is not logged (as an Organization)."""

        async def make(principal: Principal, session: AsyncSession) -> Answer:
            staff_id = parse_id("Practitioner", id_)
            staff = (await identity_repo.by_ids(session, StaffMember, [staff_id])).get(staff_id)
            if staff is None or not await plans_repo.on_a_readable_team(session, principal, clock.today(), staff_id):
                raise not_found("Practitioner", id_)
            return Answer(fhir.practitioner(staff), [])

        return await answer("Practitioner", authorization, make)

    @router.get("/Patient/{id_}")
    async def read_patient(id_: str, authorization: Authorization = None) -> Response:
        """The patient of a plan the caller may read (the readable scope decides, as for the plan)."""

        async def make(principal: Principal, session: AsyncSession) -> Answer:
            citizen_id = parse_id("Patient", id_)
            flt = plans_repo.PlanFilter(patient_id=citizen_id)
            readable, _ = await plans_repo.page(session, principal, clock.today(), flt, 1, None)
            citizen = (await identity_repo.by_ids(session, Citizen, [citizen_id])).get(citizen_id)
            if not readable or citizen is None:
                raise not_found("Patient", id_)
            care = (await plans_repo.care_organisations_of(session, [citizen_id]))[citizen_id]
            body = fhir.patient(
                citizen,
                number_shown=policy.sees_personal_number(principal, citizen_id, care),
                contact_shown=policy.sees_contact(principal, citizen_id, citizen.protected_identity, care),
            )
            return Answer(body, [patient_read(citizen_id)])

        return await answer("Patient", authorization, make)

    @router.get("/Organization/{id_}")
    async def read_organization(id_: str, authorization: Authorization = None) -> Response:
        """Organisations are the directory every signed-in person sees (GraphQL `organisations`):
        no plan data, so no audit event, as there."""

        async def make(principal: Principal, session: AsyncSession) -> Answer:
            org_id = parse_id("Organization", id_)
            org = (await identity_repo.by_ids(session, Organisation, [org_id])).get(org_id)
            if org is None:
                raise not_found("Organization", id_)
            return Answer(fhir.organization(org), [])

        return await answer("Organization", authorization, make)

    @router.get("/CarePlan")
    async def search_care_plans(request: Request, authorization: Authorization = None) -> Response:
        async def make(principal: Principal, session: AsyncSession) -> Answer:
            search = parse_search(request, settings.max_page_size)
            today = clock.today()
            patient_id: uuid.UUID | None = None
            if search.personal_number is not None:
                found = await identity_repo.citizen_by_personal_number(session, search.personal_number)
                if found is None:
                    return Answer(fhir.searchset(base, [], search.url(base, None), None), [])
                patient_id = found.id
            flt = plans_repo.PlanFilter(
                statuses=search.statuses or (),
                patient_id=patient_id,
                updated_from=search.updated_from,
                updated_before=search.updated_before,
            )
            if search.statuses == []:  # only codes that no plan has
                page: list[Plan] = []
                more = False
            else:
                try:
                    page, more = await plans_repo.page(session, principal, today, flt, search.count, search.cursor)
                except Invalid:
                    raise bad_search(
                        "_cursor är inte en som tjänsten gav ut.", "_cursor is not one this service gave out."
                    ) from None
            views = await plan_views(session, principal, today, [p.id for p in page])
            next_url = search.url(base, plans_repo.encode_cursor(page[-1])) if more else None
            included = [r for v in views for include in search.includes for r in fhir.named_by(v, include)]
            included = [r for r in included if may_read(principal, r["resourceType"])]  # a system client's scopes
            body = fhir.searchset(
                base, [fhir.care_plan(v) for v in views], search.url(base, search.cursor), next_url, included
            )
            reads = [plan_read(v.plan) for v in views]
            if {"CarePlan:subject", "CarePlan:patient"} & set(search.includes) and may_read(principal, "Patient"):
                reads += [patient_read(c) for c in dict.fromkeys(v.plan.patient_id for v in views)]
            return Answer(body, reads)

        return await answer("CarePlan", authorization, make)

    subscriptions.add_routes(router, base, settings, db, principal_of)  # record systems' rest-hooks
    kit = Kit(base, db, settings, caller, answer, outcome_response)
    for extend in extensions:  # other modules' routes (http.fhir.tasks), before the catch-all below
        extend(router, kit)

    @router.get("/{rest:path}")
    async def not_supported(rest: str) -> Response:
        """Everything else (other resource types, _history, operations) is not implemented (yet)."""
        return fhir_response(
            fhir.operation_outcome(
                "not-supported",
                "Det här stöds inte (se /fhir/metadata). / This is not supported (see /fhir/metadata).",
            ),
            404,
        )

    return router


@dataclass
class Search:
    personal_number: str | None
    statuses: list[PlanStatus] | None  # None: any status; []: only codes that no plan has
    count: int
    cursor: str | None
    given: list[tuple[str, str]]  # the parameters as asked, for the links
    includes: list[str] = field(default_factory=list)
    updated_from: datetime | None = None
    updated_before: datetime | None = None

    def url(self, base: str, cursor: str | None) -> str:
        params = [(k, v) for k, v in self.given if k != "_cursor"] + ([("_cursor", cursor)] if cursor else [])
        return f"{base}/CarePlan" + (f"?{urlencode(params)}" if params else "")


def parse_search(request: Request, max_count: int) -> Search:
    """The CarePlan search's parameters, or a 400 naming what is wrong. Unknown parameters are
    refused rather than ignored: a record system must not take all plans for the ones it asked for."""
    given = list(request.query_params.multi_items())
    for name, _ in given:
        if name not in SEARCH_PARAMS:
            raise bad_search(
                f"Sökparametern {name!r} stöds inte (se /fhir/metadata).",
                f"The search parameter {name!r} is not supported (see /fhir/metadata).",
            )
    seen = [name for name, _ in given]
    for name in set(seen) - REPEATABLE:
        if seen.count(name) > 1:
            raise bad_search(f"{name} får bara anges en gång.", f"{name} may be given only once.")
    values = dict(given)
    if values.get("_format", "json") not in JSON_FORMATS:
        raise bad_search("Bara JSON stöds (_format=json).", "Only JSON is supported (_format=json).")
    personal_number = None
    if (subject := values.get("subject:identifier")) is not None:
        system, bar, value = subject.partition("|")
        digits = value.replace("-", "")
        if not bar or system != fhir.PERSONNUMMER or len(digits) != 12 or not digits.isdigit():
            raise bad_search(
                f"subject:identifier ska vara {fhir.PERSONNUMMER}|<personnummer, 12 siffror>.",
                f"subject:identifier must be {fhir.PERSONNUMMER}|<personal identity number, 12 digits>.",
            )
        personal_number = digits
    statuses: list[PlanStatus] | None = None
    if (status := values.get("status")) is not None:
        codes = status.split(",")
        unknown = [c for c in codes if c not in STATUS_SEARCH]
        if unknown:
            raise bad_search(
                f"Okänd status {unknown[0]!r}; giltiga: {', '.join(STATUS_SEARCH)}.",
                f"Unknown status {unknown[0]!r}; valid: {', '.join(STATUS_SEARCH)}.",
            )
        statuses = sorted({s for c in codes for s in STATUS_SEARCH[c]})
    raw_count = values.get("_count", str(DEFAULT_COUNT))
    if not raw_count.isdigit() or not 1 <= int(raw_count) <= max_count:
        raise bad_search(
            f"_count ska vara ett heltal 1–{max_count}.", f"_count must be a whole number from 1 to {max_count}."
        )
    includes = list(dict.fromkeys(v for k, v in given if k == "_include"))
    for include in includes:
        if include not in fhir.INCLUDES:
            raise bad_search(
                f"_include={include!r} stöds inte; giltiga: {', '.join(fhir.INCLUDES)}.",
                f"_include={include!r} is not supported; valid: {', '.join(fhir.INCLUDES)}.",
            )
    updated_from: datetime | None = None
    updated_before: datetime | None = None
    for value in (v for k, v in given if k == "_lastUpdated"):
        start, end, prefix = last_updated(value)
        if prefix in ("gt", "ge"):
            bound = end if prefix == "gt" else start
            updated_from = bound if updated_from is None else max(updated_from, bound)
        else:
            bound = start if prefix == "lt" else end
            updated_before = bound if updated_before is None else min(updated_before, bound)
    return Search(
        personal_number,
        statuses,
        int(raw_count),
        values.get("_cursor"),
        given,
        includes,
        updated_from,
        updated_before,
    )


def last_updated(value: str) -> tuple[datetime, datetime, str]:
    """A `_lastUpdated` value: its prefix (gt, ge, lt, le) and the span its date or instant covers
    [start, end) — a date is that whole day in Sweden, an instant the microsecond it names."""
    prefix, moment = value[:2], value[2:]
    wrong = bad_search(
        "_lastUpdated ska vara gt, ge, lt eller le följt av ett datum (ÅÅÅÅ-MM-DD) eller en tidpunkt med tidszon.",
        "_lastUpdated must be gt, ge, lt or le and a date (YYYY-MM-DD) or an instant with its time zone.",
    )
    if prefix not in ("gt", "ge", "lt", "le"):
        raise wrong
    try:
        if len(moment) == 10:
            start = datetime.combine(date.fromisoformat(moment), time(), clock.STOCKHOLM)
            return start, datetime.combine(start.date() + timedelta(days=1), time(), clock.STOCKHOLM), prefix
        instant = datetime.fromisoformat(moment)
    except ValueError:
        raise wrong from None
    if instant.tzinfo is None:
        raise wrong
    return instant, instant + timedelta(microseconds=1), prefix
