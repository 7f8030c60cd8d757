"""Every table, imported in one place so that the mapper and Alembic see them all."""

from sip_service.kit.db import Base
from sip_service.models.audit import AuditEvent
from sip_service.models.discharge import DischargeNotice
from sip_service.models.identity import Citizen, Organisation, StaffMember
from sip_service.models.inbox import InboxDigest, InboxRead
from sip_service.models.meetings import Attendance, Invitation, InviteLink, Meeting
from sip_service.models.notify import OutboxMessage
from sip_service.models.plans import (
    Action,
    ActionReview,
    Approval,
    Consent,
    ConsentOrganisation,
    FollowUp,
    Goal,
    GoalRating,
    Participant,
    Plan,
    Revision,
)
from sip_service.models.stats import StatsReport, SteeringGroup, SteeringGroupMember
from sip_service.models.subscriptions import Subscription

__all__ = [
    "Action",
    "ActionReview",
    "Approval",
    "Attendance",
    "AuditEvent",
    "Base",
    "Citizen",
    "Consent",
    "ConsentOrganisation",
    "DischargeNotice",
    "FollowUp",
    "Goal",
    "GoalRating",
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
    "StatsReport",
    "SteeringGroup",
    "SteeringGroupMember",
    "Subscription",
]
