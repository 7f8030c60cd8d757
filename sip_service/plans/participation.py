"""Relatives take part only as the patient decided. Pure: no I/O, the one statement of the rule.

A relative the patient (or their legal representative) has not chosen — not decided yet
(`wanted_by_patient` None), or refused (False) — is not invited to a meeting, gets no personal
link and no message about one, is not let into one, is not recorded as attending one, and does
not see the plan. Everyone else takes part by their role: a legal representative is not a
relative, and acts for the patient.

Who asks: `meetings.service` (invite, attest attendance), `meetings.invites` (issue a link; a link
stops working when its relative is refused), `meetings.room` (the lobby), `meetings.invitations`
(messages) and `notify.service` (the outbox does not send what was written before a refusal). The
readable scope (`plans.repository.readable_condition`) says the same in SQL, and
`tests/api/test_relatives.py` holds the two together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol

from sip_service.kit.errors import Invalid
from sip_service.models.plans import ParticipantKind


def takes_part(kind: ParticipantKind, wanted_by_patient: bool | None) -> bool:
    """Whether a participant of this kind, with this choice by the patient, takes part at all."""
    return kind is not ParticipantKind.RELATIVE or wanted_by_patient is True


class Party(Protocol):
    """A participant as the rule sees it (a `Participant` row is one)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def kind(self) -> ParticipantKind: ...

    @property
    def wanted_by_patient(self) -> bool | None: ...


class RelativeNotChosen(Invalid):
    """The request names a relative the patient has not chosen to take part. The API returns it as
    a ValidationError with this code; `field` names the input that holds them."""

    code = "RELATIVE_NOT_CHOSEN"

    def __init__(self, participant_ids: Iterable[uuid.UUID], field: str | None = None) -> None:
        super().__init__(
            "Patienten har inte valt att den här närstående ska vara med. / "
            "The patient has not chosen this relative to take part.",
            field=field,
        )
        self.participant_ids = list(participant_ids)


def not_chosen(participants: Iterable[Party]) -> list[uuid.UUID]:
    """Those of these participants who do not take part, in order."""
    return [p.id for p in participants if not takes_part(p.kind, p.wanted_by_patient)]


def require_chosen(participants: Iterable[Party], *, field: str) -> None:
    """Refuse the whole request if any of these is a relative the patient has not chosen."""
    refused = not_chosen(participants)
    if refused:
        raise RelativeNotChosen(refused, field=field)
