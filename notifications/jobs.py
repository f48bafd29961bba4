"""RQ jobs: they take ids, run inside the app context (notifications.worker.AppJob), and let failures
escape so RQ records and retries them. The sending itself is in notifications/delivery.py."""
from __future__ import annotations

import uuid
from typing import Any

from rq.job import get_current_job

from notifications.delivery import GaveUp, RetryLater, RetryPolicy, deliver_reminder_batch
from notifications.delivery_staff import deliver_staff_batch
from notifications.journal import DeliveryJournal


def _last_try() -> bool:
    """True when RQ will not retry this job again (no Retry, or its retries are used up)."""
    job = get_current_job()
    return job is None or not job.retries_left


def _journal() -> DeliveryJournal:
    """The delivery journal lives in the Redis the job came from."""
    from notifications.dispatch import rq_connection

    job = get_current_job()
    return DeliveryJournal(job.connection if job is not None else rq_connection())


def deliver_reminders(claim_id: str, reminder_ids: list[str]) -> dict[str, Any]:
    """Send one claim's reminders; raises `RetryLater` when some failed transiently (RQ retries the
    batch, after the longest Retry-After a provider gave if that is longer than the back-off; what
    was sent is skipped on the retry)."""
    outcome = deliver_reminder_batch(uuid.UUID(claim_id), [uuid.UUID(i) for i in reminder_ids],
                                     retry=RetryPolicy.from_config(queued_by_rq=True), last_try=_last_try(),
                                     journal=_journal())
    if outcome.retrying:
        raise RetryLater(f"{len(outcome.retrying)} reminder(s) failed transiently: {', '.join(outcome.retrying)}",
                         retry_after=outcome.retry_after)
    if outcome.gave_up:
        raise GaveUp(f"{len(outcome.gave_up)} reminder(s) failed at their last attempt: {', '.join(outcome.gave_up)}")
    return outcome.as_dict()


def deliver_staff_notifications(claim_id: str, notification_ids: list[str]) -> dict[str, Any]:
    """Send one claim's staff outbox messages (at-least-once; see notifications/delivery_staff.py)."""
    outcome = deliver_staff_batch(uuid.UUID(claim_id), [uuid.UUID(i) for i in notification_ids],
                                  retry=RetryPolicy.from_config(queued_by_rq=True), last_try=_last_try())
    if outcome.retrying:
        raise RetryLater(f"{len(outcome.retrying)} staff message(s) failed transiently")
    if outcome.gave_up:
        raise GaveUp(f"{len(outcome.gave_up)} staff message(s) failed at their last attempt")
    return outcome.as_dict()


def deliver_reminder(claim_id: str, reminder_id: str) -> dict[str, Any]:
    """One reminder per job: the plain-RQ baseline the benchmark compares batches against."""
    return deliver_reminders(claim_id, [reminder_id])
