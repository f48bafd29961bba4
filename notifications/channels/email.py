"""E-mail over SMTP (smtplib), plain text, UTF-8 subject and body.

A new connection per message keeps the channel stateless and thread-safe; staff e-mail volume is
small. SMTP reply codes carry their own retry semantics: 4xx means "try again later", 5xx means
"this will never work", and a dropped or refused connection is a transient outage.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from .base import DeliveryResult, Message, PermanentDeliveryError, TransientDeliveryError

_ENHANCED_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


class SmtpChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together")
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout = timeout
        self.local_hostname = local_hostname  # None: smtplib asks the resolver for our FQDN
        self._ssl_context = ssl_context
        # Message-IDs from our own domain; make_msgid() would otherwise do a DNS lookup per call.
        self._msgid_domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    def _build(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        try:
            email["From"] = self.sender
            email["To"] = message.recipient
            email["Subject"] = message.title
        except ValueError as exc:  # CR/LF in a header: never retry, never send
            raise PermanentDeliveryError(f"SMTP: invalid header: {exc}") from exc
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = make_msgid(domain=self._msgid_domain)
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: keeps out-of-office replies away
        # base64 for non-ASCII: an 8-bit body needs 8BITMIME, which not every relay offers.
        email.set_content(message.body, charset="utf-8", cte=None if message.body.isascii() else "base64")
        return email

    def send(self, message: Message) -> DeliveryResult:
        email = self._build(message)
        try:
            with smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                if self.username is not None:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _for_code(code, reply) from exc
        except smtplib.SMTPResponseException as exc:
            raise _for_code(exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise TransientDeliveryError(f"SMTP: disconnected: {exc}") from exc
        except smtplib.SMTPException as exc:  # e.g. STARTTLS/AUTH not offered: configuration
            raise PermanentDeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from exc
        except TimeoutError as exc:
            raise TransientDeliveryError(f"SMTP: timed out after {self.timeout:g}s") from exc
        except OSError as exc:  # refused, reset, DNS, TLS handshake
            raise TransientDeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from exc
        return DeliveryResult(provider_message_id=email["Message-ID"])


def _for_code(code: int, reply: bytes | str) -> TransientDeliveryError | PermanentDeliveryError:
    # Keep the enhanced status (e.g. "5.1.1") but not the free text: it often quotes the address.
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    enhanced = first if _ENHANCED_STATUS.fullmatch(first) else ""
    detail = f"SMTP: {code} {enhanced}".rstrip()
    if 500 <= code < 600:
        return PermanentDeliveryError(detail)
    return TransientDeliveryError(detail)  # 4xx, and -1 for a garbled or missing reply
