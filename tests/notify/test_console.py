"""In development every outgoing message is written to the log, whole and readable (the console sender)."""

from __future__ import annotations

import logging

import pytest

from sip_service.models.notify import Channel
from sip_service.notify.senders import ConsoleSender, Outgoing, senders_for
from sip_service.settings import Settings


async def test_the_console_writes_the_whole_message_readably(caplog: pytest.LogCaptureFixture) -> None:
    body = "Hej Elsa!\n\nNär: tisdag 8 december kl. 10.00–11.00\n   https://sip.test/join#t=abc\n"
    message = Outgoing(
        Channel.EMAIL,
        "elsa@example.se",
        "Kallelse till möte om din plan",
        body,
        "invite.ics",
        "text/calendar",
        "BEGIN:VCALENDAR",
    )
    with caplog.at_level(logging.INFO, logger="sip_service.notify"):
        await ConsoleSender().send(message)
    (record,) = caplog.records
    written = record.getMessage()
    assert written.startswith("EMAIL to elsa@example.se")
    assert "Subject: Kallelse till möte om din plan" in written
    for line in (
        "Hej Elsa!",
        "När: tisdag 8 december kl. 10.00–11.00",
        "https://sip.test/join#t=abc",
        "[attachment: invite.ics]",
    ):
        assert line in written, line  # as written, not escaped


def test_development_without_smtp_or_sms_provider_writes_to_the_log() -> None:
    senders = senders_for(Settings(smtp_host=None))
    assert isinstance(senders.email, ConsoleSender) and isinstance(senders.sms, ConsoleSender)
