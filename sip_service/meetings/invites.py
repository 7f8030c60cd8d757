"""Personal invite links: how a patient or relative without an account joins one meeting.

Staff issue a link for one invited participant of one meeting. The token is shown once; only its
sha256 is stored. It travels in the URL fragment (`/join#t=…`), which browsers send neither to the
server nor in Referer headers. Exchanging it gives a short-lived meeting token (an HS256 JWT signed
with the service's own secret) that names the meeting and the participant. Never commits.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import OctKey
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from sip_service.audit import service as audit
from sip_service.audit.service import Access
from sip_service.auth.principal import GuestPrincipal, Principal
from sip_service.kit import clock
from sip_service.kit.errors import DomainError, Invalid, NotFound
from sip_service.meetings.access import meeting_for_change  # the same lookup, scope and checks as every change
from sip_service.models.audit import AuditAccess
from sip_service.models.identity import Citizen
from sip_service.models.meetings import InviteLink, Meeting, MeetingStatus
from sip_service.models.plans import Participant, ParticipantKind, Plan, PlanStatus
from sip_service.plans import participation, policy

# The link opens an hour before the meeting (or when issued, if later) and closes an hour after it.
OPENS_BEFORE = timedelta(hours=1)
CLOSES_AFTER = timedelta(hours=1)
# Short, so that a leaked meeting token is soon worthless; the guest renews it by exchanging again.
MEETING_TOKEN_TTL = timedelta(minutes=15)
MEETING_AUDIENCE = "sip-meeting"  # what the meeting token is for: nothing else accepts it
MEETING_ISSUER = "sip-service"
_ALGORITHMS = ["HS256"]  # self-issued and self-checked: a shared secret is right here, nothing else is
MIN_SECRET_BYTES = 32
# People who have no staff account; staff sign in as themselves.
GUEST_KINDS = frozenset(
    {ParticipantKind.PATIENT, ParticipantKind.RELATIVE, ParticipantKind.REPRESENTATIVE, ParticipantKind.EXTERNAL}
)
_MAX_TOKEN_LENGTH = 4096  # both kinds of token are far shorter; bounds the work a caller can cause


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def join_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/join#t={token}"


def link_window(starts_at: datetime, ends_at: datetime, issued_at: datetime) -> tuple[datetime, datetime]:
    """From when until when a link for this meeting works."""
    return max(issued_at, starts_at - OPENS_BEFORE), ends_at + CLOSES_AFTER


@dataclass(frozen=True)
class IssuedLink:
    """A new link. `token` is in no other place: show it once, then forget it."""

    meeting: Meeting
    participant_id: uuid.UUID
    token: str
    valid_from: datetime
    expires_at: datetime

    @property
    def plan_id(self) -> uuid.UUID:  # the plan the audit event is about
        return self.meeting.plan_id


async def _unrevoked(session: AsyncSession, meeting_id: uuid.UUID, participant_id: uuid.UUID) -> list[InviteLink]:
    stmt = select(InviteLink).where(
        InviteLink.meeting_id == meeting_id,
        InviteLink.participant_id == participant_id,
        InviteLink.revoked_at.is_(None),
    )
    return list((await session.scalars(stmt)).all())


async def issue_link(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID, expected_version: int, participant_id: uuid.UUID
) -> IssuedLink:
    """A new personal link for an invited, non-staff participant; their previous link stops working.

    The participant must already be invited (`invite`): the invitation records how they were told,
    which the readiness rule RELATIVES_INVITED relies on, so issuing a link does not invite anyone.
    A relative the patient has not chosen gets none (RELATIVE_NOT_CHOSEN), even if invited before
    the patient refused them.
    """
    plan, meeting = await meeting_for_change(session, principal, meeting_id, expected_version)  # staff of the plan
    staff = policy.require_staff(principal)
    participant = next((p for p in plan.participants if p.id == participant_id), None)
    if participant is None:
        raise NotFound("Participant", participant_id)
    if participant.kind not in GUEST_KINDS:
        raise Invalid("staff sign in with their own account; invite links are for others", field="participantId")
    # Asked before the invitation, which may be older than the patient's refusal.
    participation.require_chosen([participant], field="participantId")
    if not any(i.participant_id == participant_id for i in meeting.invitations):
        raise Invalid("invite the participant to the meeting first", field="participantId")
    now = clock.now()
    valid_from, expires_at = link_window(meeting.starts_at, meeting.ends_at, now)
    if expires_at <= now:
        raise Invalid("the meeting is over", field="meetingId")
    for old in await _unrevoked(session, meeting_id, participant_id):
        old.revoked_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        InviteLink(
            meeting_id=meeting_id,
            participant_id=participant_id,
            token_hash=hash_token(token),
            issued_at=now,
            issued_by_staff_id=staff.staff_id,
            valid_from=valid_from,
            expires_at=expires_at,
        )
    )
    return IssuedLink(meeting, participant_id, token, valid_from, expires_at)


async def revoke_link(
    session: AsyncSession, principal: Principal, meeting_id: uuid.UUID, expected_version: int, participant_id: uuid.UUID
) -> Meeting:
    plan, meeting = await meeting_for_change(session, principal, meeting_id, expected_version)  # staff of the plan
    if participant_id not in {p.id for p in plan.participants}:
        raise NotFound("Participant", participant_id)
    links = await _unrevoked(session, meeting_id, participant_id)
    if not links:
        raise Invalid("the participant has no invite link to revoke", field="participantId")
    for link in links:
        link.revoked_at = clock.now()
    return meeting


async def active_links(
    session: AsyncSession, meeting_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[InviteLink]]:
    """Links not revoked and not yet expired, of meetings the caller has already read in scope."""
    out: dict[uuid.UUID, list[InviteLink]] = {mid: [] for mid in meeting_ids}
    stmt = (
        select(InviteLink)
        .where(InviteLink.meeting_id.in_(meeting_ids), InviteLink.revoked_at.is_(None), InviteLink.expires_at > now)
        .order_by(InviteLink.issued_at, InviteLink.id)
    )
    for link in await session.scalars(stmt):
        out[link.meeting_id].append(link)
    return out


def is_active(link: InviteLink, now: datetime) -> bool:
    """A link `active_links` gives (its WHERE, for a link already loaded)."""
    return link.revoked_at is None and link.expires_at > now


# ---- Exchange: invite token → meeting token ----


class Refused(DomainError):
    """An invite link that does not let anyone in. `status`: 401 the link is no credential
    (unknown, revoked, expired); 403 it is genuine but the meeting cannot be joined (now)."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def _unknown() -> Refused:
    return Refused("INVITE_UNKNOWN", 401, "Länken är inte giltig. / The link is not valid.")


@dataclass(frozen=True)
class Admission:
    guest: GuestPrincipal
    link_expires_at: datetime
    patient_id: uuid.UUID


async def _admission(
    session: AsyncSession, link_condition: ColumnElement[bool], now: datetime
) -> tuple[InviteLink, Admission]:
    """The link and who it admits, or Refused with the reason."""
    row = (
        await session.execute(
            select(InviteLink, Meeting.status, Plan.id, Plan.status, Plan.patient_id, Participant, Citizen.name)
            .join(Meeting, Meeting.id == InviteLink.meeting_id)
            .join(Plan, Plan.id == Meeting.plan_id)
            .join(Participant, Participant.id == InviteLink.participant_id)
            .outerjoin(Citizen, Citizen.id == Participant.citizen_id)
            .where(link_condition)
        )
    ).first()
    if row is None:
        raise _unknown()
    link, meeting_status, plan_id, plan_status, patient_id, participant, citizen_name = row
    # A relative the patient has not chosen, or no longer wants, has no working link, as no plan.
    if link.revoked_at is not None or not participation.takes_part(participant.kind, participant.wanted_by_patient):
        raise Refused("INVITE_REVOKED", 401, "Länken har dragits tillbaka. / The link has been revoked.")
    if meeting_status is MeetingStatus.CANCELLED:
        raise Refused("MEETING_CANCELLED", 403, "Mötet är inställt. / The meeting has been cancelled.")
    if plan_status is PlanStatus.CLOSED:
        raise Refused("PLAN_CLOSED", 403, "Planen är avslutad. / The plan has been closed.")
    if now >= link.expires_at:
        raise Refused("INVITE_EXPIRED", 401, "Länken gäller inte längre. / The link has expired.")
    if now < link.valid_from:
        opens = f"{link.valid_from.astimezone(clock.STOCKHOLM):%Y-%m-%d %H:%M}"
        raise Refused(
            "INVITE_NOT_YET_VALID",
            403,
            f"Länken går att använda från {opens}. / The link can be used from {opens} (Swedish time).",
        )
    guest = GuestPrincipal(
        citizen_id=participant.citizen_id,
        participant_id=participant.id,
        meeting_id=link.meeting_id,
        plan_id=plan_id,
        name=citizen_name or participant.external_name or "Gäst",
        link_id=link.id,
    )
    return link, Admission(guest, link.expires_at, patient_id)


async def exchange(session: AsyncSession, token: str, now: datetime) -> Admission:
    """Check an invite token, mark the link used and audit it, in the caller's transaction."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        raise _unknown()
    # Looked up by hash: the token is 256 random bits, so timing reveals nothing useful.
    link, admission = await _admission(session, InviteLink.token_hash == hash_token(token), now)
    link.last_used_at = now
    access = Access(AuditAccess.READ, "inviteLink.exchange", admission.guest.plan_id, admission.patient_id)
    await audit.append(session, admission.guest, [access])
    return admission


async def admitted(session: AsyncSession, guest: GuestPrincipal, meeting_id: uuid.UUID, now: datetime) -> bool:
    """Whether this guest may be in this meeting now: the meeting token's own meeting, and its link
    still works (revocation, cancellation or a closed plan take effect before the token expires)."""
    if guest.meeting_id != meeting_id:
        return False
    try:
        link, _ = await _admission(session, InviteLink.id == guest.link_id, now)
    except Refused:
        return False
    return link.meeting_id == meeting_id and link.participant_id == guest.participant_id


def signing_key(secret: bytes) -> OctKey:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the meeting token secret must be at least {MIN_SECRET_BYTES} bytes")
    return OctKey.import_key(secret)


def meeting_token(admission: Admission, secret: bytes, now: datetime) -> tuple[str, datetime]:
    """A signed meeting token for the admitted guest; it never outlives the link's window."""
    expires_at = min(now + MEETING_TOKEN_TTL, admission.link_expires_at)
    g = admission.guest
    claims = {
        "iss": MEETING_ISSUER,
        "aud": MEETING_AUDIENCE,
        "sub": str(g.participant_id),
        "jti": str(g.link_id),
        "meeting_id": str(g.meeting_id),
        "plan_id": str(g.plan_id),
        "citizen_id": str(g.citizen_id) if g.citizen_id else None,
        "name": g.name,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode({"alg": "HS256"}, claims, signing_key(secret), algorithms=_ALGORITHMS), expires_at


_CLAIMS = jwt.JWTClaimsRegistry(
    now=lambda: int(clock.now().timestamp()),  # the service's one source of time
    leeway=5,
    iss={"essential": True, "value": MEETING_ISSUER},
    aud={"essential": True, "value": MEETING_AUDIENCE},
    sub={"essential": True},
    jti={"essential": True},
    exp={"essential": True},
)


def guest_principal_from_meeting_token(token: str, secrets: Sequence[bytes]) -> GuestPrincipal | None:
    """The guest a meeting token names, or None if it is not one of ours (signed under none of
    `secrets`: the one that signs now and those still accepted after a rotation), or expired. Fails
    closed.

    This says who the guest is; `admitted` says whether the link still works for a meeting."""
    keys = [signing_key(secret) for secret in secrets]
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    try:
        claims = _verified_claims(token, keys)
        if claims is None:
            return None
        _CLAIMS.validate(claims)
        citizen = claims.get("citizen_id")
        return GuestPrincipal(
            citizen_id=uuid.UUID(citizen) if citizen is not None else None,
            participant_id=uuid.UUID(claims["sub"]),
            meeting_id=uuid.UUID(claims["meeting_id"]),
            plan_id=uuid.UUID(claims["plan_id"]),
            name=str(claims["name"]),
            link_id=uuid.UUID(claims["jti"]),
        )
    except (JoseError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _verified_claims(token: str, keys: list[OctKey]) -> dict[str, Any] | None:
    for key in keys:
        try:
            return dict(jwt.decode(token, key, algorithms=_ALGORITHMS).claims)
        except BadSignatureError:
            continue  # another secret's, perhaps one still accepted
    return None
