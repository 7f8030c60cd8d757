"""What the messages about a meeting say, as a person would write them. Pure: no I/O.

A citizen reads one language, their own (`Citizen.language`); staff read Swedish. Each message
says when (weekday, date and time in words, from Babel), who invites and a phone number to call,
what the meeting is for, how to join (or where to go) and what happens next. An SMS says the same
briefly, in the GSM alphabet (no en dash) to stay within two text messages; an e-mail says it in full.
A relative reads whose plan it is by the patient's first name, never a personal identity number.
Staff are sent no patient data by e-mail: they sign in to read the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_date

from sip_service.kit import clock
from sip_service.models.identity import Language
from sip_service.models.meetings import MeetingKind, MeetingPurpose
from sip_service.models.notify import MessageKind
from sip_service.models.plans import ParticipantKind


@dataclass(frozen=True)
class Inviter:
    """The staff member who invites (or moves, or cancels)."""

    name: str
    title: str
    organisation: str
    phone: str | None  # their own work phone, else their organisation's switchboard


@dataclass(frozen=True)
class Reader:
    kind: ParticipantKind
    first_name: str
    language: Language  # staff: always Swedish
    patient_first_name: str  # whose plan it is


@dataclass(frozen=True)
class Occasion:
    """The meeting, as this message tells about it."""

    message: MessageKind
    kind: MeetingKind
    purpose: MeetingPurpose
    starts_at: datetime
    ends_at: datetime
    location: str
    link: str | None  # a citizen's personal join link; for staff, the meeting page
    plan_url: str | None = None  # staff: the plan, after sign-in


@dataclass(frozen=True)
class Text:
    subject: str
    body: str
    summary: str  # the calendar event's
    description: str  # the calendar event's (never a personal link)


def first_name(name: str) -> str:
    return name.split()[0] if name.strip() else name


def when(starts_at: datetime, ends_at: datetime, language: Language, *, sms: bool = False) -> str:
    """ "tisdag 8 december kl. 10.00–11.00" / "Tuesday 8 December, 10:00–11:00", in Swedish time;
    the year only when it is not this year."""
    start, end = starts_at.astimezone(clock.STOCKHOLM), ends_at.astimezone(clock.STOCKHOLM)
    pattern = "EEEE d MMMM" if start.year == clock.today().year else "EEEE d MMMM y"
    dash = "-" if sms else "–"
    if language is Language.EN:
        day = format_date(start, pattern, locale="en_GB")
        return f"{day}, {start:%H:%M}{dash}{end:%H:%M}"
    day = format_date(start, pattern, locale="sv_SE")
    return f"{day} kl. {start:%H.%M}{dash}{end:%H.%M}"


def start_only(starts_at: datetime, language: Language) -> str:
    """ "tisdag 8 december kl. 10.00" / "Tuesday 8 December at 10:00": for subject lines."""
    start = starts_at.astimezone(clock.STOCKHOLM)
    pattern = "EEEE d MMMM" if start.year == clock.today().year else "EEEE d MMMM y"
    if language is Language.EN:
        return f"{format_date(start, pattern, locale='en_GB')} at {start:%H:%M}"
    return f"{format_date(start, pattern, locale='sv_SE')} kl. {start:%H.%M}"


def _genitive_sv(name: str) -> str:
    return name if name[-1:].lower() in ("s", "x", "z") else f"{name}s"


def _inviter_sv(inviter: Inviter) -> str:
    return ", ".join(x for x in (inviter.name, inviter.title.lower(), inviter.organisation) if x)


def _inviter_en(inviter: Inviter) -> str:
    return ", ".join(x for x in (inviter.name, inviter.title, inviter.organisation) if x)


def compose(occasion: Occasion, reader: Reader, inviter: Inviter, *, sms: bool) -> Text:
    if reader.kind is ParticipantKind.STAFF:
        return _staff(occasion, reader, inviter)
    if reader.language is Language.EN:
        return _citizen_en(occasion, reader, inviter, sms=sms)
    return _citizen_sv(occasion, reader, inviter, sms=sms)


# ---- citizens, in Swedish ----------------------------------------------------------------------


def _citizen_sv(o: Occasion, r: Reader, inviter: Inviter, *, sms: bool) -> Text:
    own = r.kind is ParticipantKind.PATIENT
    owner = "din" if own else _genitive_sv(r.patient_first_name)
    whose, whose_long = f"{owner} plan", f"{owner} samordnade individuella plan"
    meeting = "planeringsmöte" if o.purpose is MeetingPurpose.PLANNING else "uppföljningsmöte"
    time = when(o.starts_at, o.ends_at, Language.SV)
    video = o.kind is not MeetingKind.IN_PERSON and o.link is not None
    call = f"Ring {inviter.name} på {inviter.phone}." if inviter.phone else f"Kontakta {inviter.organisation}."
    cancelled = o.message is MessageKind.CANCELLATION
    summary = ("INSTÄLLT: " if cancelled else "") + f"SIP-möte om {whose}"

    if sms:
        short_time = when(o.starts_at, o.ends_at, Language.SV, sms=True)
        ask = f"Frågor? Ring {inviter.name}, {inviter.organisation}, {inviter.phone}."
        short_call = ask if inviter.phone else f"Frågor? Kontakta {inviter.organisation}."
        if cancelled:
            body = f"Inställt: mötet om {whose} {short_time}. Vi hör av oss om en ny tid. {short_call}"
        else:
            what = "videomöte" if o.kind is MeetingKind.VIDEO else "möte"
            lead = "Ny tid" if o.message is MessageKind.UPDATE else "Kallelse"
            parts = [f"{lead}: {what} om {whose} {short_time}."]
            if o.kind is not MeetingKind.VIDEO and o.location:
                parts.append(f"Plats: {o.location}.")
            if video:
                new = "den nya " if o.message is MessageKind.UPDATE else ""
                parts.append(
                    f"Öppna {new}länken några minuter före, ingen app behövs: {o.link} Du släpps in från ett väntrum."
                )
            parts.append(short_call)
            body = " ".join(parts)
        return Text(summary, body + "\n", summary, "")

    lines = [f"Hej {r.first_name}!", ""]
    if cancelled:
        subject = f"Inställt: mötet om {whose} {start_only(o.starts_at, Language.SV)}"
        lines.append(f"{meeting.capitalize()}t om {whose_long} (SIP) {time} är inställt.")
        if o.kind is not MeetingKind.IN_PERSON:
            lines.append("Länken till mötet fungerar inte längre.")
        lines += ["", f"Vi hör av oss om en ny tid. Har du frågor? {call}"]
        description = f"Mötet är inställt. {call}"
    else:
        if o.message is MessageKind.UPDATE:
            subject = f"Ny tid för mötet om {whose}: {start_only(o.starts_at, Language.SV)}"
            lines.append(f"{meeting.capitalize()}t om {whose_long} (SIP) har fått en ny tid.")
        else:
            subject = f"Kallelse till möte om {whose}: {start_only(o.starts_at, Language.SV)}"
            lines.append(f"Du är välkommen till ett {meeting} om {whose_long} (SIP).")
            if r.kind is ParticipantKind.RELATIVE:
                lines.append(f"{r.patient_first_name} vill att du är med.")
            elif r.kind is ParticipantKind.REPRESENTATIVE:
                lines.append(f"Du är kallad som företrädare för {r.patient_first_name}.")
        lines.append(_purpose_sv(o.purpose, own, r.patient_first_name))
        lines += ["", f"När: {time}"]
        if o.kind is not MeetingKind.VIDEO and o.location:
            lines.append(f"Var: {o.location}")
        if o.kind is MeetingKind.VIDEO:
            lines.append("Var: videomöte. Du är med från mobilen, surfplattan eller datorn.")
        description_lines = [lines[2], f"När: {time}"]
        if video:
            lines += ["", "Så här går du med:"]
            if o.message is MessageKind.UPDATE:
                lines.append("Använd den nya länken. Den gamla länken fungerar inte längre.")
            lines += [
                "1. Öppna länken i mobilen eller datorn några minuter före mötet; ingen app behövs:",
                f"   {o.link}",
                "2. Du väntar i ett väntrum tills personalen släpper in dig i mötet.",
                "Länken är personlig. Dela den inte med någon annan.",
            ]
            description_lines.append(
                "Öppna den personliga länken i e-postmeddelandet några minuter före mötet; ingen app behövs. "
                "Du väntar i ett väntrum tills personalen släpper in dig."
            )
        elif o.kind is MeetingKind.IN_PERSON:
            lines.append("Kom gärna några minuter före mötet.")
        lines += ["", f"Kallad av: {_inviter_sv(inviter)}.", f"Har du frågor, eller kan du inte komma? {call}"]
        lines += ["", _next_sv(o.purpose, r)]
        description_lines += [f"Kallad av: {_inviter_sv(inviter)}. {call}"]
        description = "\n".join(description_lines)
    lines += ["", "Med vänliga hälsningar", inviter.name, inviter.organisation]
    return Text(subject, "\n".join(lines) + "\n", summary, description)


def _purpose_sv(purpose: MeetingPurpose, own: bool, patient: str) -> str:
    if purpose is MeetingPurpose.FOLLOW_UP:
        return "På mötet går vi igenom hur det har gått och om något i planen behöver ändras."
    who = "du" if own else patient
    return f"På mötet gör vi planen tillsammans: vad {who} vill uppnå, vilken hjälp som behövs och vem som gör vad."


def _next_sv(purpose: MeetingPurpose, r: Reader) -> str:
    approver = r.patient_first_name if r.kind is ParticipantKind.RELATIVE else "Du"
    if purpose is MeetingPurpose.FOLLOW_UP:
        return (
            f"Vad händer sedan: om något behöver ändras skriver vi in det i planen. "
            f"{approver} får läsa den nya planen och godkänna den."
        )
    return (
        f"Vad händer sedan: efter mötet skriver vi ner planen. {approver} får läsa den "
        "och godkänna den innan den börjar gälla."
    )


# ---- citizens, in English ----------------------------------------------------------------------


def _citizen_en(o: Occasion, r: Reader, inviter: Inviter, *, sms: bool) -> Text:
    own = r.kind is ParticipantKind.PATIENT
    whose = "your plan" if own else f"{r.patient_first_name}'s plan"
    whose_long = "your coordinated individual plan" if own else f"{r.patient_first_name}'s coordinated individual plan"
    meeting = "planning meeting" if o.purpose is MeetingPurpose.PLANNING else "follow-up meeting"
    time = when(o.starts_at, o.ends_at, Language.EN)
    video = o.kind is not MeetingKind.IN_PERSON and o.link is not None
    call = f"Call {inviter.name} on {inviter.phone}." if inviter.phone else f"Contact {inviter.organisation}."
    cancelled = o.message is MessageKind.CANCELLATION
    summary = ("CANCELLED: " if cancelled else "") + f"SIP meeting about {whose}"

    if sms:
        short_time = when(o.starts_at, o.ends_at, Language.EN, sms=True)
        ask = f"Questions? Call {inviter.name}, {inviter.organisation}, {inviter.phone}."
        short_call = ask if inviter.phone else f"Questions? Contact {inviter.organisation}."
        if cancelled:
            body = f"Cancelled: the meeting about {whose} on {short_time}. We will contact you about a new time. "
            body += short_call
        else:
            what = "video meeting" if o.kind is MeetingKind.VIDEO else "meeting"
            lead = "New time" if o.message is MessageKind.UPDATE else "Invitation"
            parts = [f"{lead}: {what} about {whose} on {short_time}."]
            if o.kind is not MeetingKind.VIDEO and o.location:
                parts.append(f"Place: {o.location}.")
            if video:
                new = " new" if o.message is MessageKind.UPDATE else ""
                parts.append(
                    f"Open the{new} link a few minutes early, no app needed: {o.link} "
                    "You are let in from a waiting room."
                )
            parts.append(short_call)
            body = " ".join(parts)
        return Text(summary, body + "\n", summary, "")

    lines = [f"Hello {r.first_name},", ""]
    if cancelled:
        subject = f"Cancelled: the meeting about {whose} on {start_only(o.starts_at, Language.EN)}"
        lines.append(f"The {meeting} about {whose_long} (SIP) on {time} is cancelled.")
        if o.kind is not MeetingKind.IN_PERSON:
            lines.append("The link to the meeting no longer works.")
        lines += ["", f"We will be in touch about a new time. Any questions? {call}"]
        description = f"The meeting is cancelled. {call}"
    else:
        if o.message is MessageKind.UPDATE:
            subject = f"New time for the meeting about {whose}: {start_only(o.starts_at, Language.EN)}"
            lines.append(f"The {meeting} about {whose_long} (SIP) has a new time.")
        else:
            subject = f"Invitation to a meeting about {whose}: {start_only(o.starts_at, Language.EN)}"
            lines.append(f"You are invited to a {meeting} about {whose_long} (SIP).")
            if r.kind is ParticipantKind.RELATIVE:
                lines.append(f"{r.patient_first_name} would like you to take part.")
            elif r.kind is ParticipantKind.REPRESENTATIVE:
                lines.append(f"You are invited as {r.patient_first_name}'s representative.")
        lines.append(_purpose_en(o.purpose, own, r.patient_first_name))
        lines += ["", f"When: {time} (Swedish time)"]
        if o.kind is not MeetingKind.VIDEO and o.location:
            lines.append(f"Where: {o.location}")
        if o.kind is MeetingKind.VIDEO:
            lines.append("Where: a video meeting. You take part from your phone, tablet or computer.")
        description_lines = [lines[2], f"When: {time} (Swedish time)"]
        if video:
            lines += ["", "How to join:"]
            if o.message is MessageKind.UPDATE:
                lines.append("Use the new link. The old link no longer works.")
            lines += [
                "1. Open the link on your phone or computer a few minutes before the meeting; no app is needed:",
                f"   {o.link}",
                "2. You wait in a waiting room until staff let you into the meeting.",
                "The link is personal. Do not share it with anyone.",
            ]
            description_lines.append(
                "Open the personal link in the e-mail a few minutes before the meeting; no app is needed. "
                "You wait in a waiting room until staff let you in."
            )
        elif o.kind is MeetingKind.IN_PERSON:
            lines.append("Please come a few minutes before the meeting.")
        lines += ["", f"Invited by: {_inviter_en(inviter)}.", f"Any questions, or can you not come? {call}"]
        lines += ["", _next_en(o.purpose, r)]
        description_lines += [f"Invited by: {_inviter_en(inviter)}. {call}"]
        description = "\n".join(description_lines)
    lines += ["", "Kind regards", inviter.name, inviter.organisation]
    return Text(subject, "\n".join(lines) + "\n", summary, description)


def _purpose_en(purpose: MeetingPurpose, own: bool, patient: str) -> str:
    if purpose is MeetingPurpose.FOLLOW_UP:
        return "At the meeting we go through how things have gone and whether anything in the plan needs to change."
    who = "you want" if own else f"{patient} wants"
    return f"At the meeting we make the plan together: what {who} to achieve, what help is needed and who does what."


def _next_en(purpose: MeetingPurpose, r: Reader) -> str:
    if r.kind is ParticipantKind.RELATIVE:
        approver = f"{r.patient_first_name} reads"
        approves = "approves"
    else:
        approver, approves = "You read", "approve"
    if purpose is MeetingPurpose.FOLLOW_UP:
        return (
            "What happens next: if anything needs to change, we change the plan. "
            f"{approver} the new plan and {approves} it."
        )
    return (
        f"What happens next: after the meeting we write the plan down. {approver} it and {approves} it "
        "before it applies."
    )


# ---- staff, in Swedish -------------------------------------------------------------------------


def _staff(o: Occasion, r: Reader, inviter: Inviter) -> Text:
    meeting = "planeringsmöte" if o.purpose is MeetingPurpose.PLANNING else "uppföljningsmöte"
    what = "planering" if o.purpose is MeetingPurpose.PLANNING else "uppföljning"
    time = when(o.starts_at, o.ends_at, Language.SV)
    cancelled = o.message is MessageKind.CANCELLATION
    summary = ("INSTÄLLT: " if cancelled else "") + f"SIP-möte ({what})"
    call = f", tfn {inviter.phone}" if inviter.phone else ""
    lines = [f"Hej {r.first_name}!", ""]
    if cancelled:
        subject = f"Inställt: SIP-möte ({what}) {start_only(o.starts_at, Language.SV)}"
        lines.append(f"SIP-mötet ({meeting}) {time} är inställt.")
    else:
        if o.message is MessageKind.UPDATE:
            subject = f"Ny tid: SIP-möte ({what}) {start_only(o.starts_at, Language.SV)}"
            lines.append(f"SIP-mötet ({meeting}) har fått en ny tid.")
        else:
            subject = f"Kallelse: SIP-möte ({what}) {start_only(o.starts_at, Language.SV)}"
            lines.append(f"Du är kallad till ett {meeting} för en samordnad individuell plan (SIP).")
        lines += ["", f"När: {time}"]
        if o.kind is not MeetingKind.VIDEO and o.location:
            lines.append(f"Var: {o.location}")
        if o.kind is not MeetingKind.IN_PERSON and o.link:
            lines += [
                f"Videomötet: logga in och öppna {o.link}",
                "Patienten och närstående väntar i väntrummet tills någon av personalen släpper in dem.",
            ]
    if o.plan_url:
        lines += ["", f"Planen (efter inloggning): {o.plan_url}"]
    lines += [
        "Patientens uppgifter skickas inte med e-post; du läser dem i tjänsten.",
        "",
        f"{'Inställt' if cancelled else 'Kallad'} av: {_inviter_sv(inviter)}{call}.",
    ]
    described = (lines[2], o.link and f"Videomötet: {o.link}", o.plan_url and f"Planen: {o.plan_url}")
    description = "\n".join(x for x in described if x)
    return Text(subject, "\n".join(lines) + "\n", summary, description)
