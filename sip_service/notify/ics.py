"""Calendar files (RFC 5545 / iTIP RFC 5546) for meeting invitations, in UTC; the summary and
description come with the message, in the reader's language (`notify.texts`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//SIP-tjänsten//Samordnad individuell plan//SV"


def uid(meeting_id: uuid.UUID) -> str:
    """The same for every message about one meeting, so calendars update the one event."""
    return f"meeting-{meeting_id}@sip-service"


def calendar(
    *,
    meeting_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    sequence: int,
    cancelled: bool,
    stamp: datetime,
    summary: str,
    description: str,
    location: str = "",
    organizer: str,
    organizer_name: str = "SIP-tjänsten",
    attendee_email: str | None = None,
    url: str | None = None,
) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", uid(meeting_id))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", starts_at.astimezone(UTC))
    event.add("dtend", ends_at.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", summary)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if location:
        event.add("location", location)
    if url:
        event.add("url", url)
    org = vCalAddress(f"mailto:{organizer}")
    org.params["cn"] = vText(organizer_name)
    event["organizer"] = org
    if attendee_email:
        att = vCalAddress(f"mailto:{attendee_email}")
        att.params["role"] = vText("REQ-PARTICIPANT")
        att.params["rsvp"] = vText("FALSE")
        event.add("attendee", att, encode=False)
    cal.add_component(event)
    data: bytes = cal.to_ical()
    return data
