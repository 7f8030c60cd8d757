"""The discharge notice as a FHIR R4 Task: what a hospital's record system posts, checked and read
into a `plans.service.Notice`, and the Task the service answers with. Pure: no I/O, no access
decisions, no audit (the contract `fhir-mapping-pure` holds it, as `resources`).

The Task the service takes (documented in the CapabilityStatement and the README):

- `resourceType` Task, `status` requested (or ready), any valid `intent`;
- `code`: a coding `urn:sip-tjansten:fhir:CodeSystem:task-code` | `utskrivningsklar` (ready for
  discharge, lag 2017:612);
- `identifier`: at least one with `system` and `value`; the first such names the notice: the same
  again from the same organisation's systems is the same notice (idempotent);
- `for`: the patient, a Reference by `identifier` with the personal identity number
  (`http://electronichealth.se/identifier/personnummer`, 12 digits, a hyphen allowed);
- `owner`: the primary-care unit that is to call the SIP meeting, a Reference by `identifier` with its
  HSA-id (`urn:oid:1.2.752.29.4.19`) — `owner` rather than `restriction.recipient`: the unit is the
  one to act on the Task, which is what `owner` means;
- `authoredOn` (optional): when the patient was found ready for discharge, a dateTime with time and
  zone; the 3-day clock runs from it (without it, from when the notice came).

The service checks the JSON shape of every Task element (a string, an object or a list, as R4 has
it), the codes of `status`, `intent` and `priority`, and what it reads in full; an unknown element
is refused. It carries no full FHIR validator at run time: the tests hold its checks against
fhir.resources on a corpus of bad Tasks (tests/fhir/test_discharge_tasks.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sip_service.http.fhir.resources import (
    CANONICAL,
    HSA_ID,
    PERSONNUMMER,
    Json,
    clean,
    instant,
    organisation_ref,
)
from sip_service.inbox.rules import discharge_deadline
from sip_service.models.discharge import DischargeNotice
from sip_service.models.identity import Citizen, Organisation

TASK_CODE = f"{CANONICAL}:CodeSystem:task-code"
READY_FOR_DISCHARGE = "utskrivningsklar"

STATUSES = {
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
}
TAKEN_STATUSES = ("requested", "ready")  # a new notice; cancelling one is not supported (yet)
INTENTS = {
    "unknown",
    "proposal",
    "plan",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
}
PRIORITIES = {"routine", "urgent", "asap", "stat"}

# R4 Task's elements by JSON shape: str (a primitive), dict (a complex type, 0..1) or list (0..*).
ELEMENTS: dict[str, type] = {
    "resourceType": str,
    "id": str,
    "implicitRules": str,
    "language": str,
    "instantiatesCanonical": str,
    "instantiatesUri": str,
    "status": str,
    "intent": str,
    "priority": str,
    "description": str,
    "authoredOn": str,
    "lastModified": str,
    "meta": dict,
    "text": dict,
    "groupIdentifier": dict,
    "statusReason": dict,
    "businessStatus": dict,
    "code": dict,
    "focus": dict,
    "for": dict,
    "encounter": dict,
    "executionPeriod": dict,
    "requester": dict,
    "owner": dict,
    "location": dict,
    "reasonCode": dict,
    "reasonReference": dict,
    "restriction": dict,
    "contained": list,
    "extension": list,
    "modifierExtension": list,
    "identifier": list,
    "basedOn": list,
    "partOf": list,
    "performerType": list,
    "insurance": list,
    "note": list,
    "relevantHistory": list,
    "input": list,
    "output": list,
}
PRIMITIVES = {name for name, shape in ELEMENTS.items() if shape is str and name != "resourceType"}
# FHIR's dateTime with a time: the zone is then required
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
DATE_TIME_ANY = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?)?)?")
PERSONAL_NUMBER = re.compile(r"\d{8}-?\d{4}")


@dataclass(frozen=True)
class Notice:
    """What a Task says (the fields of `plans.service.Notice`, which the router makes of it)."""

    identifier_system: str
    identifier_value: str
    personal_number: str  # 12 digits
    unit_hsa_id: str
    ready_at: datetime | None  # None: when it came
    intent: str


class TaskRefused(Exception):
    """A Task the service does not take: the HTTP status (400 not valid FHIR, 422 valid but not a
    notice it can take), FHIR's issue code, and the words in Swedish and English."""

    def __init__(self, status: int, code: str, sv: str, en: str) -> None:
        super().__init__(en)
        self.status, self.code, self.text = status, code, f"{sv} / {en}"


def _invalid(sv: str, en: str) -> TaskRefused:
    return TaskRefused(400, "invalid", sv, en)


def _unprocessable(code: str, sv: str, en: str) -> TaskRefused:
    return TaskRefused(422, code, sv, en)


def _check_shape(body: dict[str, Any]) -> None:
    """Valid R4 as far as the JSON shape goes: known elements only, each of its kind, none empty."""
    words: dict[type, tuple[str, str]] = {
        str: ("en sträng", "a string"),
        dict: ("ett objekt", "an object"),
        list: ("en lista", "a list"),
    }
    for name, value in body.items():
        base = name[1:] if name.startswith("_") else name
        if base not in ELEMENTS or (name.startswith("_") and base not in PRIMITIVES):
            raise _invalid(f"Task har inget element {name!r}.", f"Task has no element {name!r}.")
        shape = dict if name.startswith("_") else ELEMENTS[base]
        if not isinstance(value, shape) or value in ("", [], {}):
            sv, en = words[shape]
            raise _invalid(f"Task.{name} ska vara {sv} och inte tom.", f"Task.{name} must be {en} and not empty.")
        if isinstance(value, list) and not all(isinstance(v, dict) and v for v in value):
            raise _invalid(f"Task.{name} ska vara en lista av objekt.", f"Task.{name} must be a list of objects.")
    for name, codes in (("status", STATUSES), ("intent", INTENTS), ("priority", PRIORITIES)):
        if name in body and body[name] not in codes:
            raise _invalid(
                f"Task.{name} {body[name]!r} är ingen giltig kod; giltiga: {', '.join(sorted(codes))}.",
                f"Task.{name} {body[name]!r} is not a valid code; valid: {', '.join(sorted(codes))}.",
            )
    for name in ("status", "intent"):  # required by R4
        if name not in body:
            raise _invalid(f"Task.{name} saknas (obligatoriskt i FHIR).", f"Task.{name} is missing (required by FHIR).")
    for name in ("authoredOn", "lastModified"):
        if name in body and not DATE_TIME_ANY.fullmatch(body[name]):
            raise _invalid(f"Task.{name} är ingen giltig dateTime.", f"Task.{name} is not a valid dateTime.")


def _identifier(reference: Any, element: str, system: str) -> str | None:
    """The value of a Reference's identifier in `system`, or None when it names none."""
    if not isinstance(reference, dict):
        return None
    identifier = reference.get("identifier")
    if not isinstance(identifier, dict) or identifier.get("system") != system:
        return None
    value = identifier.get("value")
    if not isinstance(value, str) or not value.strip():
        raise _unprocessable(
            "required", f"Task.{element}.identifier.value saknas.", f"Task.{element}.identifier.value is missing."
        )
    return value.strip()


def parse_task(body: Any) -> Notice:
    """The notice a posted Task gives, or why it is refused (`TaskRefused`)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Task":
        raise _invalid(
            "Skicka en FHIR-resurs Task (resourceType Task).", "Send a FHIR Task resource (resourceType Task)."
        )
    _check_shape(body)
    if body["status"] not in TAKEN_STATUSES:
        raise _unprocessable(
            "business-rule",
            f"Task.status ska vara {' eller '.join(TAKEN_STATUSES)} för ett nytt meddelande.",
            f"Task.status must be {' or '.join(TAKEN_STATUSES)} for a new notice.",
        )
    codings = body.get("code", {}).get("coding", [])
    if not any(
        isinstance(c, dict) and c.get("system") == TASK_CODE and c.get("code") == READY_FOR_DISCHARGE
        for c in (codings if isinstance(codings, list) else [])
    ):
        raise _unprocessable(
            "value",
            f"Task.code ska ha kodningen {TASK_CODE}|{READY_FOR_DISCHARGE} (utskrivningsklar).",
            f"Task.code must have the coding {TASK_CODE}|{READY_FOR_DISCHARGE} (ready for discharge).",
        )
    named = [
        (i["system"], i["value"])
        for i in body.get("identifier", [])
        if isinstance(i.get("system"), str) and isinstance(i.get("value"), str) and i["system"] and i["value"]
    ]
    if not named:
        raise _unprocessable(
            "required",
            "Task.identifier med system och value krävs (så att samma meddelande två gånger blir ett).",
            "Task.identifier with system and value is required (so that the same notice twice is one).",
        )
    if "for" not in body:
        raise _unprocessable("required", "Task.for (patienten) saknas.", "Task.for (the patient) is missing.")
    number = _identifier(body["for"], "for", PERSONNUMMER)
    if number is None:
        raise _unprocessable(
            "value",
            f"Task.for ska ange patienten med identifier {PERSONNUMMER}.",
            f"Task.for must name the patient by an identifier in {PERSONNUMMER}.",
        )
    if not PERSONAL_NUMBER.fullmatch(number):
        raise _unprocessable(
            "value",
            "Personnumret ska ha 12 siffror (ÅÅÅÅMMDDNNNN eller ÅÅÅÅMMDD-NNNN).",
            "The personal identity number must have 12 digits (YYYYMMDDNNNN or YYYYMMDD-NNNN).",
        )
    if "owner" not in body:
        raise _unprocessable(
            "required",
            "Task.owner (vårdcentralen som ska kalla till SIP-möte) saknas.",
            "Task.owner (the primary-care unit that is to call the SIP meeting) is missing.",
        )
    unit = _identifier(body["owner"], "owner", HSA_ID)
    if unit is None:
        raise _unprocessable(
            "value",
            f"Task.owner ska ange enheten med identifier {HSA_ID} (HSA-id).",
            f"Task.owner must name the unit by an identifier in {HSA_ID} (HSA-id).",
        )
    ready_at = None
    if "authoredOn" in body:
        if not DATE_TIME.fullmatch(body["authoredOn"]):
            raise _unprocessable(
                "value",
                "Task.authoredOn ska vara en tidpunkt med tidszon (t.ex. 2026-12-02T09:30:00+01:00).",
                "Task.authoredOn must be a moment with its time zone (e.g. 2026-12-02T09:30:00+01:00).",
            )
        try:
            ready_at = datetime.fromisoformat(body["authoredOn"])
        except ValueError:
            raise _invalid(
                "Task.authoredOn är ingen giltig tidpunkt.", "Task.authoredOn is not a valid instant."
            ) from None
    system, value = named[0]
    return Notice(system, value, number.replace("-", ""), unit, ready_at, body["intent"])


def task(row: DischargeNotice, patient: Citizen, poster: Organisation | None, unit: Organisation | None) -> Json:
    """The Task as the service keeps it: accepted, its focus the plan it started or flagged, the
    SIP meeting due within three days of `authoredOn` (`restriction.period.end`)."""

    return clean(
        {
            "resourceType": "Task",
            "id": str(row.id),
            "meta": {"versionId": "1", "lastUpdated": instant(row.received_at)},
            "language": "sv",
            "identifier": [{"system": row.identifier_system, "value": row.identifier_value}],
            "status": "accepted",
            "intent": row.intent,
            "code": {
                "coding": [{"system": TASK_CODE, "code": READY_FOR_DISCHARGE, "display": "Utskrivningsklar"}],
                "text": "Utskrivningsklar: kalla till SIP-möte inom tre dagar",
            },
            "focus": {"reference": f"CarePlan/{row.plan_id}", "type": "CarePlan"},
            # as the poster named the patient (it knows the number); the Patient is not theirs to read
            "for": {"type": "Patient", "identifier": {"system": PERSONNUMMER, "value": patient.personal_number}},
            "authoredOn": instant(row.ready_at),
            "lastModified": instant(row.received_at),
            "requester": organisation_ref(poster),
            "owner": organisation_ref(unit),
            "restriction": {"period": {"end": instant(discharge_deadline(row.ready_at))}},
        }
    )
