"""What the messages say (notify.texts, pure): one language per reader, the time in words, who
invites and whom to call, what the meeting is for, how to join or where to go, what happens next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sip_service.kit import clock
from sip_service.models.identity import Language
from sip_service.models.meetings import MeetingKind, MeetingPurpose
from sip_service.models.notify import MessageKind
from sip_service.models.plans import ParticipantKind
from sip_service.notify import texts

ANNA = texts.Inviter("Anna Lind", "Distriktssköterska", "Vårdcentralen Norrbacka", "070-174 06 05")
LINK = "https://sip.regionsormark.example/join#t=" + "A" * 43  # as long as a real one, or longer
# The GSM 03.38 basic alphabet: an SMS in it holds 160 characters (153 each when split), not 70.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Words only one of the two languages uses: a message in one language has none of the other's.
SWEDISH = ("Kallelse", "möte", "Frågor", "Ring ", "länken", "väntrum", "Hej", "inställt", "tisdag", "december")
ENGLISH = ("Invitation", "meeting", "Questions", "Call ", "link", "waiting room", "Hello", "cancelled", "Tuesday")


def tuesday_8_december(hour: int = 10) -> datetime:
    """Tuesday 8 December, this year if it is still ahead, at `hour` Swedish time."""
    year = clock.today().year
    return datetime(year, 12, 8, hour, tzinfo=clock.STOCKHOLM).astimezone(UTC)


def occasion(
    message: MessageKind = MessageKind.INVITATION,
    kind: MeetingKind = MeetingKind.VIDEO,
    purpose: MeetingPurpose = MeetingPurpose.PLANNING,
    starts_at: datetime | None = None,
    location: str = "",
) -> texts.Occasion:
    start = starts_at or tuesday_8_december()
    link = LINK if kind is not MeetingKind.IN_PERSON and message is not MessageKind.CANCELLATION else None
    return texts.Occasion(message, kind, purpose, start, start + timedelta(hours=1), location, link)


ELSA = texts.Reader(ParticipantKind.PATIENT, "Elsa", Language.SV, "Elsa")
PER = texts.Reader(ParticipantKind.RELATIVE, "Per", Language.SV, "Elsa")
LENA = texts.Reader(ParticipantKind.RELATIVE, "Lena", Language.EN, "Elsa")


def test_the_time_in_words() -> None:
    start = tuesday_8_december()
    end = start + timedelta(hours=1)
    this_year = start.year == clock.today().year
    year = "" if this_year else f" {start.year}"
    assert texts.when(start, end, Language.SV) == f"tisdag 8 december{year} kl. 10.00–11.00"
    assert texts.when(start, end, Language.EN) == f"Tuesday 8 December{year}, 10:00–11:00"
    assert texts.when(start, end, Language.SV, sms=True) == f"tisdag 8 december{year} kl. 10.00-11.00"
    # Next year's meeting says its year; summer time is Swedish time too.
    summer = datetime(clock.today().year + 1, 6, 1, 8, tzinfo=UTC)  # 10.00 in Stockholm (CEST)
    assert texts.when(summer, summer + timedelta(minutes=45), Language.SV).endswith(
        f"1 juni {summer.year} kl. 10.00–10.45"
    )


@pytest.mark.parametrize("message", list(MessageKind))
@pytest.mark.parametrize("reader", [ELSA, PER, LENA], ids=["patient-sv", "relative-sv", "relative-en"])
@pytest.mark.parametrize("sms", [True, False], ids=["sms", "email"])
def test_one_language_each(message: MessageKind, reader: texts.Reader, sms: bool) -> None:
    text = texts.compose(occasion(message), reader, ANNA, sms=sms)
    everything = "\n".join((text.subject, text.body, text.summary, text.description))
    other = SWEDISH if reader.language is Language.EN else ENGLISH
    assert [w for w in other if w in everything] == [], everything
    own = ENGLISH if reader.language is Language.EN else SWEDISH
    assert sum(w in everything for w in own) >= 3, everything
    assert "Anna Lind" in text.body and "070-174 06 05" in text.body  # who, and whom to call
    assert ("Tuesday 8 December" if reader.language is Language.EN else "tisdag 8 december") in text.body


@pytest.mark.parametrize("message", list(MessageKind))
@pytest.mark.parametrize("reader", [ELSA, PER, LENA], ids=["patient-sv", "relative-sv", "relative-en"])
def test_an_sms_is_short_and_in_the_gsm_alphabet(message: MessageKind, reader: texts.Reader) -> None:
    body = texts.compose(occasion(message), reader, ANNA, sms=True).body
    assert set(body) <= GSM7, set(body) - GSM7
    limit = 2 * 153 if reader.language is Language.SV else 2 * 153 + 20  # English takes a few more words
    assert len(body) <= limit, (len(body), body)


def test_the_patients_own_invitation_by_email() -> None:
    text = texts.compose(occasion(), ELSA, ANNA, sms=False)
    assert text.subject.startswith("Kallelse till möte om din plan: tisdag 8 december")
    body = text.body
    for said in (
        "Hej Elsa!",
        "planeringsmöte om din samordnade individuella plan (SIP)",  # what the meeting is for
        "När: tisdag 8 december",
        "kl. 10.00–11.00",
        "Öppna länken i mobilen eller datorn några minuter före mötet; ingen app behövs",
        LINK,
        "Du väntar i ett väntrum tills personalen släpper in dig",
        "Kallad av: Anna Lind, distriktssköterska, Vårdcentralen Norrbacka.",
        "Ring Anna Lind på 070-174 06 05.",
        "Vad händer sedan: efter mötet skriver vi ner planen. Du får läsa den och godkänna den",
    ):
        assert said in body, said
    assert text.summary == "SIP-möte om din plan"
    assert LINK not in text.description  # the calendar file never holds the personal link
    assert "tisdag 8 december" in text.description and "070-174 06 05" in text.description


def test_a_relative_reads_whose_plan_by_first_name() -> None:
    sv = texts.compose(occasion(), PER, ANNA, sms=False)
    assert "Elsas samordnade individuella plan" in sv.body and "Elsa vill att du är med." in sv.body
    assert "Elsa får läsa den och godkänna den" in sv.body
    assert sv.summary == "SIP-möte om Elsas plan"
    en = texts.compose(occasion(), LENA, ANNA, sms=False)
    assert "Elsa's coordinated individual plan (SIP)" in en.body and "Elsa would like you to take part." in en.body
    assert "Elsa reads it and approves it before it applies." in en.body
    assert en.summary == "SIP meeting about Elsa's plan"
    klas = texts.Reader(ParticipantKind.RELATIVE, "Per", Language.SV, "Klas")
    assert "Klas plan" in texts.compose(occasion(), klas, ANNA, sms=True).body  # not "Klass"


def test_in_person_says_where_and_follow_up_says_what_for() -> None:
    where = "Vårdcentralen Norrbacka, rum 12"
    o = occasion(kind=MeetingKind.IN_PERSON, purpose=MeetingPurpose.FOLLOW_UP, location=where)
    email = texts.compose(o, ELSA, ANNA, sms=False).body
    assert f"Var: {where}" in email and "Kom gärna några minuter före mötet." in email
    assert "uppföljningsmöte" in email and "hur det har gått" in email
    assert "länk" not in email and "#t=" not in email
    sms = texts.compose(o, ELSA, ANNA, sms=True).body
    assert f"Plats: {where}." in sms and "video" not in sms
    en = texts.compose(o, LENA, ANNA, sms=False).body
    assert f"Where: {where}" in en and "follow-up meeting" in en


def test_no_phone_of_their_own_or_their_organisation() -> None:
    nobody = texts.Inviter("Omar Haddad", "Läkare", "Vårdcentralen Norrbacka", None)
    assert "Kontakta Vårdcentralen Norrbacka." in texts.compose(occasion(), ELSA, nobody, sms=False).body
    assert "Contact Vårdcentralen Norrbacka." in texts.compose(occasion(), LENA, nobody, sms=True).body


def test_a_new_time_and_a_cancellation() -> None:
    moved = texts.compose(occasion(MessageKind.UPDATE), ELSA, ANNA, sms=False)
    assert "har fått en ny tid" in moved.body and "Den gamla länken fungerar inte längre." in moved.body
    assert moved.subject.startswith("Ny tid för mötet om din plan")
    gone = texts.compose(occasion(MessageKind.CANCELLATION), LENA, ANNA, sms=False)
    assert gone.subject.startswith("Cancelled: the meeting about Elsa's plan on Tuesday 8 December")
    assert "is cancelled" in gone.body and "#t=" not in gone.body
    assert gone.summary == "CANCELLED: SIP meeting about Elsa's plan"
    assert texts.compose(occasion(MessageKind.CANCELLATION), ELSA, ANNA, sms=True).body.startswith("Inställt:")


def test_staff_read_swedish_and_no_patient_data() -> None:
    johan = texts.Reader(ParticipantKind.STAFF, "Johan", Language.EN, "Elsa")  # staff read Swedish
    page = "https://sip.example/video/?m=1"
    o = texts.Occasion(
        MessageKind.INVITATION,
        MeetingKind.VIDEO,
        MeetingPurpose.PLANNING,
        tuesday_8_december(),
        tuesday_8_december(11),
        "",
        page,
        "https://sip.example/app/#/plans/2",
    )
    text = texts.compose(o, johan, ANNA, sms=False)
    assert text.subject.startswith("Kallelse: SIP-möte (planering) tisdag 8 december")
    assert "Hej Johan!" in text.body and f"logga in och öppna {page}" in text.body
    assert "Kallad av: Anna Lind, distriktssköterska, Vårdcentralen Norrbacka, tfn 070-174 06 05." in text.body
    assert "Elsa" not in text.body + text.description
    assert text.summary == "SIP-möte (planering)" and page in text.description
