"""Every table, imported in one place so that the mapper and Alembic see them all."""

from sip_service.audit.models import AuditEvent
from sip_service.identity.models import Citizen, Organisation, StaffMember
from sip_service.inbox.models import InboxDigest, InboxRead
from sip_service.kit.db import Base
from sip_service.meetings.models import Attendance, Invitation, InviteLink, Meeting
from sip_service.notify.models import OutboxMessage
from sip_service.plans.models import (
    Action,
    Approval,
    Consent,
    ConsentOrganisation,
    Goal,
    Participant,
    Plan,
    Revision,
)

__all__ = [
    "Action",
    "Approval",
    "Attendance",
    "AuditEvent",
    "Base",
    "Citizen",
    "Consent",
    "ConsentOrganisation",
    "Goal",
    "InboxDigest",
    "InboxRead",
    "Invitation",
    "InviteLink",
    "Meeting",
    "Organisation",
    "OutboxMessage",
    "Participant",
    "Plan",
    "Revision",
    "StaffMember",
]
