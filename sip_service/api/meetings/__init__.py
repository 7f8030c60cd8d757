"""GraphQL for meetings, one room per part: `types`, `inputs`, `mutations` (the live side is api.live)."""

from sip_service.api.meetings.mutations import MeetingMutation as MeetingMutation
from sip_service.api.meetings.types import MeetingType as MeetingType
