"""HTTP: discharge notices in, as FHIR Tasks at /fhir/Task (an extension of `router.fhir_router`).

`POST /fhir/Task`: a hospital's record system (a `SystemPrincipal` with `system/Task.write`) says a
patient is ready for discharge and names the primary-care unit (`discharge.parse_task` says what it
takes). The change goes through `usecases.run` as that client (`plans.service.receive_discharge_notice`:
the unit's open plan flagged, or a discharge plan started for the unit), so the plan's rules, the
WRITE audit event and the live pages' change event apply. Answers 201 with the Task (status
accepted, focus the CarePlan) and its Location; the same notice again (its first identifier, from
the same organisation's systems) answers 200 with the same Task and writes nothing more than a READ
event. A Task it does not take answers an OperationOutcome, 400 (not valid FHIR) or 422 (not a
notice it can take), and writes nothing.

`GET /fhir/Task/{id}`: the Task, to the posting organisation's systems (with `system/Task.read`);
for anyone else it is not there (404).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service import usecases
from sip_service.audit.service import Access
from sip_service.auth.principal import Principal, SystemPrincipal
from sip_service.http.fhir import discharge
from sip_service.http.fhir.router import Answer, Extension, Kit, Outcome, fhir_response, not_found
from sip_service.identity import repository as identity_repo
from sip_service.kit.errors import Forbidden
from sip_service.kit.outage import is_outage
from sip_service.kit.pubsub import Broker
from sip_service.models.audit import AuditAccess
from sip_service.models.discharge import DischargeNotice
from sip_service.models.identity import Citizen, Organisation
from sip_service.plans import repository as plans_repo
from sip_service.plans import service as plans_service
from sip_service.plans.rules import Refused

logger = logging.getLogger(__name__)
Authorization = Annotated[str | None, Header()]
ACTION = "discharge.notice"  # the WRITE audit event's action


def task_read(row: DischargeNotice) -> Access:
    return Access(AuditAccess.READ, "task.read", row.plan_id, row.patient_id)


async def task_body(session: AsyncSession, row: DischargeNotice) -> dict[str, object]:
    orgs = await identity_repo.by_ids(session, Organisation, [row.poster_org_id, row.unit_org_id])
    patient = (await identity_repo.by_ids(session, Citizen, [row.patient_id]))[row.patient_id]
    return discharge.task(row, patient, orgs.get(row.poster_org_id), orgs.get(row.unit_org_id))


def routes(broker: Broker | None) -> Extension:
    """The Task routes, publishing plan changes on `broker` (the live pages')."""

    def add(router: APIRouter, kit: Kit) -> None:
        def outcome(status: int, code: str, text: str) -> Response:
            return kit.outcome_response(Outcome(status, code, text))

        def created(body: dict[str, object], row: DischargeNotice, status: int) -> Response:
            return fhir_response(
                body,
                status,
                {"Location": f"{kit.base}/Task/{row.id}/_history/1", "ETag": 'W/"1"'},
            )

        async def repeat(principal: SystemPrincipal, notice: plans_service.Notice) -> Response | None:
            """The same notice again: the Task it made (200), after its READ event is written."""
            async with kit.db.read() as session:
                row = await plans_repo.discharge_notice_by_key(
                    session, principal.organisation_id, notice.identifier_system, notice.identifier_value
                )
                if row is None:
                    return None
                body = await task_body(session, row)
            await usecases.record_reads(kit.db, principal, [task_read(row)])
            return created(body, row, 200)

        @router.post("/Task")
        async def create_task(request: Request, authorization: Authorization = None) -> Response:
            principal = await kit.caller(authorization)
            if isinstance(principal, Response):
                return principal
            if not (isinstance(principal, SystemPrincipal) and principal.may("Task", "write")):
                return outcome(
                    403,
                    "forbidden",
                    "Bara ett journalsystem med scope system/Task.write kan skicka utskrivningsmeddelanden. / "
                    "Only a record system with the scope system/Task.write can send discharge notices.",
                )
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return outcome(400, "structure", "Kroppen är inte JSON. / The body is not JSON.")
            try:
                notice = plans_service.Notice(**dataclasses.asdict(discharge.parse_task(body)))
            except discharge.TaskRefused as exc:
                return outcome(exc.status, exc.code, exc.text)
            try:
                if (answer := await repeat(principal, notice)) is not None:
                    return answer

                async def change(session: AsyncSession) -> tuple[object, DischargeNotice]:
                    return await plans_service.receive_discharge_notice(session, principal, notice)

                try:
                    _, row = await usecases.run(kit.db, principal, ACTION, change, broker=broker)
                except IntegrityError:  # the same notice, posted at the same moment, was written first
                    if (answer := await repeat(principal, notice)) is not None:
                        return answer
                    raise
                async with kit.db.read() as session:
                    body = await task_body(session, row)
                return created(body, row, 201)
            except Refused as exc:
                return outcome(
                    422, "business-rule", f"{exc.refusal.message_sv} / {exc.refusal.message_en} ({exc.code})"
                )
            except Forbidden:
                return outcome(403, "forbidden", "Åtgärden är inte tillåten. / Not allowed.")
            except Exception as exc:
                if is_outage(exc):
                    raise
                logger.exception("FHIR Task create failed")
                return outcome(500, "exception", "Något gick fel i tjänsten. / Something went wrong in the service.")

        @router.get("/Task/{id_}")
        async def read_task(id_: str, authorization: Authorization = None) -> Response:
            async def make(principal: Principal, session: AsyncSession) -> Answer:
                try:
                    notice_id = uuid.UUID(id_)
                except ValueError:
                    raise not_found("Task", id_) from None
                row = None
                if isinstance(principal, SystemPrincipal):  # a notice is its poster's only
                    row = await plans_repo.discharge_notice_of(session, principal.organisation_id, notice_id)
                if row is None:
                    raise not_found("Task", id_)
                return Answer(await task_body(session, row), [task_read(row)], "1")

            return await kit.answer("Task", authorization, make)

    return add
