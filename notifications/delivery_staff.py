"""Sending the staff outbox (`staff_notifications`): e-mail, or the log channel when a user has no
address or no SMTP is configured. At-least-once, unlike patient reminders (notifications/delivery.py
explains why): a row stays `queued` until its outcome is committed, so a crash in mid-send resends it
when the lease runs out."""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from backend.extensions import db
from backend.models import Site, StaffNotification, User
from backend.models.base import utcnow
from backend.services.reminders import configured_channels
from notifications.channels import Message, PermanentDeliveryError, TransientDeliveryError
from notifications.delivery import BatchOutcome, RetryPolicy
from notifications.delivery_tx import DeliveryTx
from notifications.messages import MessageCatalogError, render, resolve_locale

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def staff_locale(country: str | None) -> str:
    """Staff have no locale setting: sites in China read Chinese, everyone else English."""
    return resolve_locale("zh-CN" if country == "CN" else "en")


def _staff_params(params: dict[str, Any]) -> dict[str, Any]:
    """Outbox params are JSON: ISO dates become dates again so they are formatted for the locale."""
    return {key: date.fromisoformat(value) if isinstance(value, str) and _ISO_DATE.match(value) else value
            for key, value in (params or {}).items()}


def deliver_staff_batch(claim_id: uuid.UUID, ids: Sequence[uuid.UUID], *, retry: RetryPolicy,
                        last_try: bool = False, clock: Callable[[], datetime] = utcnow) -> BatchOutcome:
    """Send claimed staff outbox messages by e-mail (the log channel when the user has no address or no
    SMTP is configured). At-least-once: the outcome is committed after the send (module docstring)."""
    session = db.session
    tx = DeliveryTx(session)
    outcome = BatchOutcome()
    channels = configured_channels()
    rows = session.execute(
        sa.select(StaffNotification.id, StaffNotification.status, StaffNotification.claim_id,
                  StaffNotification.message_key, StaffNotification.params, StaffNotification.channel,
                  StaffNotification.attempts, StaffNotification.user_id, User.email, User.is_active, Site.country)
        .join(User, User.id == StaffNotification.user_id).outerjoin(Site, Site.id == StaffNotification.site_id)
        .where(StaffNotification.id.in_(list(ids))).order_by(StaffNotification.send_at)).all()
    outcome.skipped += len(set(ids)) - len(rows)
    for row in rows:
        if row.status != "queued" or row.claim_id != claim_id:
            outcome.skipped += 1
            continue
        mine = (StaffNotification.id == row.id, StaffNotification.status == "queued",
                StaffNotification.claim_id == claim_id)
        attempts = row.attempts + 1
        if not row.is_active:
            tx.run(sa.update(StaffNotification).where(*mine).values(
                status="cancelled", last_error="the user's account is inactive"))
            tx.commit()
            outcome.cancelled += 1
            continue
        use_email = row.channel == "email" and row.email and "email" in channels
        channel = "email" if use_email else "log"
        recipient = row.email if use_email else f"user:{row.user_id}"
        now = clock()
        try:
            text = render(row.message_key, staff_locale(row.country), **_staff_params(row.params))
            result = channels[channel].send(Message(recipient=recipient, title=text.title, body=text.body))
        except TransientDeliveryError as error:
            tx.record(staff_notification_id=row.id, channel=channel, outcome="transient", at=now,
                    error=str(error))
            last = retry.is_last(attempts, last_try)
            tx.run(sa.update(StaffNotification).where(*mine).values(
                status="failed" if last else "queued", attempts=attempts, last_error=str(error)[:2000],
                lease_until=None if last else retry.next_lease(attempts, now)))
            if last:
                outcome.failed += 1
                outcome.gave_up.append(str(row.id))
            else:
                outcome.retrying.append(str(row.id))
        except (PermanentDeliveryError, MessageCatalogError) as error:
            tx.record(staff_notification_id=row.id, channel=channel, outcome="permanent", at=now,
                    error=str(error))
            tx.run(sa.update(StaffNotification).where(*mine).values(
                status="failed", attempts=attempts, last_error=str(error)[:2000], lease_until=None))
            outcome.failed += 1
        else:
            tx.record(staff_notification_id=row.id, channel=channel, outcome="sent", at=now,
                    provider_message_id=result.provider_message_id)
            tx.run(sa.update(StaffNotification).where(*mine).values(
                status="sent", attempts=attempts, sent_at=now, last_error=None, lease_until=None, channel=channel))
            outcome.sent += 1
        tx.commit()
    return outcome


__all__ = ["deliver_staff_batch", "staff_locale"]
