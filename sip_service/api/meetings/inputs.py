"""GraphQL inputs of the meeting mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from sip_service.api.meetings.types import MeetingKind, MeetingPurpose
from sip_service.models import meetings as models


@strawberry.input
class ScheduleMeetingInput:
    kind: MeetingKind  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime
    purpose: MeetingPurpose = models.MeetingPurpose.PLANNING  # type: ignore[valid-type]
    location: str = ""
    agenda: str = ""
