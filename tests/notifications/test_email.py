import email
from email import policy

import pytest

from notifications.channels import Message, PermanentDeliveryError, SmtpChannel, TransientDeliveryError

from .conftest import SMTP_PASSWORD, SMTP_USER

NURSE = "nurse@site-01.example.org"
SUBJECT = "症状警报：受试者 S-0042"
BODY = "受试者 S-0042 报告了症状：腹泻（3 级），触发规则：diarrhoea_grade3。请在 Cadence 中查看报告并联系患者。"


def channel(server, **kwargs) -> SmtpChannel:
    kwargs.setdefault("timeout", 5)
    return SmtpChannel(server.host, server.port, "Cadence <noreply@cadence.example.org>", local_hostname="localhost", **kwargs)


def message(**overrides) -> Message:
    return Message(**{"recipient": NURSE, "title": SUBJECT, "body": BODY, **overrides})


def test_email_is_delivered_with_utf8_subject_and_body(smtp_server):
    result = channel(smtp_server).send(message())

    [envelope] = smtp_server.handler.envelopes
    assert envelope.mail_from == "noreply@cadence.example.org"
    assert envelope.rcpt_tos == [NURSE]
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert received["Subject"] == SUBJECT
    assert received["To"] == NURSE
    assert received.get_content().strip() == BODY
    assert received["Message-ID"] == result.provider_message_id
    assert received["Message-ID"].endswith("@cadence.example.org>")
    assert received["Auto-Submitted"] == "auto-generated"


def test_email_ascii_body_is_sent_readable(smtp_server):
    channel(smtp_server).send(message(title="Symptom alert", body="Subject S-0042 reported diarrhoea."))
    raw = smtp_server.handler.envelopes[0].original_content
    assert b"Subject S-0042 reported diarrhoea." in raw


def test_email_login(make_smtp_server):
    server = make_smtp_server(with_auth=True)
    channel(server, username=SMTP_USER, password=SMTP_PASSWORD).send(message())
    assert len(server.handler.envelopes) == 1


def test_email_wrong_password_is_permanent(make_smtp_server):
    server = make_smtp_server(with_auth=True)
    with pytest.raises(PermanentDeliveryError, match="535"):
        channel(server, username=SMTP_USER, password="wrong").send(message())


def test_email_starttls_not_offered_is_permanent(smtp_server):
    # A misconfiguration, not an outage: retrying cannot make the server offer TLS.
    with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        channel(smtp_server, starttls=True).send(message())
    assert smtp_server.handler.envelopes == []


@pytest.mark.parametrize(
    "stage, reply, error",
    [
        pytest.param("rcpt", "451 4.3.0 Mailbox temporarily unavailable", TransientDeliveryError, id="RCPT 451"),
        pytest.param("rcpt", "550 5.1.1 <nurse@site-01.example.org> unknown", PermanentDeliveryError, id="RCPT 550"),
        pytest.param("data", "451 4.7.1 Greylisted, try later", TransientDeliveryError, id="DATA 451"),
        pytest.param("data", "554 5.7.1 Rejected as spam", PermanentDeliveryError, id="DATA 554"),
    ],
)
def test_email_smtp_reply_codes(smtp_server, stage, reply, error):
    setattr(smtp_server.handler, f"{stage}_reply", reply)
    with pytest.raises(error) as excinfo:
        channel(smtp_server).send(message())
    code, enhanced = reply.split()[:2]
    assert str(excinfo.value) == f"SMTP: {code} {enhanced}"  # no free text: it may quote the address


def test_email_timeout_is_transient(smtp_server):
    smtp_server.handler.data_delay = 2
    with pytest.raises(TransientDeliveryError):
        channel(smtp_server, timeout=0.3).send(message())


def test_email_connection_refused_is_transient(closed_port):
    smtp = SmtpChannel("127.0.0.1", closed_port, "noreply@cadence.example.org", timeout=2, local_hostname="localhost")
    with pytest.raises(TransientDeliveryError, match="ConnectionRefused"):
        smtp.send(message())


def test_email_header_injection_is_refused_before_connecting(closed_port):
    smtp = SmtpChannel("127.0.0.1", closed_port, "noreply@cadence.example.org")
    with pytest.raises(PermanentDeliveryError, match="header"):
        smtp.send(message(recipient="nurse@example.org\r\nBcc: someone@evil.example"))


def test_email_username_without_password_is_rejected():
    with pytest.raises(ValueError):
        SmtpChannel("127.0.0.1", 25, "noreply@cadence.example.org", username="u")
