"""flask CLI: the first admin, the demo, patient import, alert escalation, the PFS scan, reminder dispatch."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from backend.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data for a laptop.")
alerts_cli = AppGroup("alerts", help="Symptom alerts.")
pfs_cli = AppGroup("pfs", help="Progression-free survival: the early warning.")
patients_cli = AppGroup("patients", help="Patients and their calendars.")
studies_cli = AppGroup("studies", help="Studies and protocol amendments.")
reminders_cli = AppGroup("reminders", help="Patient reminders and the staff outbox.")


@users_cli.command("create")
@click.option("--role", required=True, type=click.Choice(["admin", "coordinator", "nurse", "patient"]))
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--site", "sites", multiple=True, help="Site code (repeatable)")
@click.option("--study", "studies", multiple=True, help="Study code (repeatable)")
def create_user_command(role, username, password, sites, studies):
    """Create a user; the first admin is made this way."""
    from backend.services.users import create_user

    try:
        user = create_user(None, {"role": role, "username": username, "password": password,
                                  "sites": list(sites), "studies": list(studies)})
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"created {user.role} {user.username} ({user.id})")


@demo_cli.command("load")
def load_demo_command():
    """Load the two seed studies, three sites, staff and patients; idempotent."""
    from backend.services.demo import load_demo

    for line in load_demo():
        click.echo(line)


def _instant(now: str | None):
    """`--now` as an aware UTC instant (default: the real now)."""
    from datetime import datetime, timezone

    if now is None:
        return datetime.now(timezone.utc)
    try:
        instant = datetime.fromisoformat(now)
    except ValueError:
        raise click.BadParameter("an RFC 3339 instant, e.g. 2026-03-01T08:00:00Z", param_hint="--now") from None
    if instant.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2026-03-01T08:00:00Z", param_hint="--now")
    return instant.astimezone(timezone.utc)


@alerts_cli.command("escalate")
@click.option("--now", "now", default=None, help="Evaluate as of this RFC 3339 instant (default: now).")
def escalate_alerts_command(now):
    """Escalate symptom alerts left open past their study's limit to its coordinators; idempotent."""
    from backend.services.alerts import escalate_overdue_alerts

    escalated = escalate_overdue_alerts(_instant(now))
    click.echo(f"escalated {len(escalated)} alert(s)")


@pfs_cli.command("scan")
@click.option("--now", "now", default=None, help="Evaluate at this instant (RFC 3339 with an offset); default now.")
def pfs_scan_command(now):
    """Queue PFS early warnings for the site nurses of every on-study patient at risk; run daily."""
    from backend.services.pfs import scan_pfs_risk

    summary = scan_pfs_risk(_instant(now))
    click.echo(f"{summary.patients} on-study patients, {summary.at_risk} at risk, {summary.queued} messages queued")



def _import_help() -> str:
    from backend.services.imports import IMPORT_COLUMNS, VISITS_HELP

    return (
        "Enrol the patients of an existing trial from FILE (CSV, UTF-8, a header row) and plan their "
        "calendars, with the visits they already had.\n\n"
        f"Columns: {', '.join(IMPORT_COLUMNS)} (timezone, locale and visits optional; study and site are "
        "codes, first_dose_date YYYY-MM-DD, locale en or zh-CN).\n\n"
        + VISITS_HELP.replace("\n", "\n\n\b\n", 1)
        + "\n\nEach patient is all or nothing; rejected rows are listed with their reason. Patients are "
        "committed in batches; re-running the same file (after an interruption) skips the subjects "
        "already imported and lists them."
    )


def _import_subjects(rows) -> list[tuple[str, str]]:
    return [((row.get("study") or "").strip(), (row.get("subject_id") or "").strip()) for _line, row in rows]


def _csv_rows(file: str):
    """(line, row) of the import file, read as they are consumed: a 100,000-row file is never all in memory."""
    import csv

    with open(file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, row


def _write_activation_codes(subjects, codes_file: str, enrolled_before: set, source: str) -> None:
    """`--activation-codes FILE`: a one-time code for every patient this import enrolled, written as CSV
    (study, site, subject_id, code, expires_at) for the site to hand out; the file is readable by its
    owner only. Codes are stored hashed: this file is the only copy."""
    import csv
    import os

    from backend.services.activation import issue_codes_for_import

    issued = issue_codes_for_import(subjects, enrolled_before=enrolled_before, source=source)
    descriptor = os.open(codes_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study", "site", "subject_id", "code", "expires_at"])
        for patient, code in issued:
            writer.writerow([patient.study.code, patient.site.code, patient.subject_id, code.code,
                             code.expires_at.isoformat().replace("+00:00", "Z")])
    click.echo(f"wrote {len(issued)} activation code(s) to {codes_file}")


@patients_cli.command("import", help=_import_help())
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--activation-codes", "codes_file", type=click.Path(dir_okay=False), default=None,
              help="Issue a one-time app activation code to every patient imported, written to this CSV file.")
def import_patients_command(file, codes_file):
    import csv
    import sys

    from backend.models.audit import SYSTEM_ACTOR, current_actor
    from backend.services.imports import IMPORT_COLUMNS, REQUIRED_IMPORT_COLUMNS, import_patients

    with open(file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        unknown = [name for name in header if name not in IMPORT_COLUMNS]
        missing = [name for name in REQUIRED_IMPORT_COLUMNS if name not in header]
        if unknown or missing:
            raise click.ClickException(
                "; ".join(filter(None, [unknown and f"unknown column(s): {', '.join(unknown)}",
                                        missing and f"missing column(s): {', '.join(missing)}"])))
        total = sum(1 for _ in reader)
    subjects = _import_subjects(_csv_rows(file)) if codes_file else []
    actor = current_actor.set(SYSTEM_ACTOR)  # audited as the system, whatever ran before in this process
    try:
        if codes_file:
            from backend.services.activation import enrolled_ids

            enrolled_before = enrolled_ids(subjects)
        with click.progressbar(length=total, label="Importing patients", file=sys.stderr) as bar:
            summary = import_patients(_csv_rows(file), source=file, progress=bar.update)
        if codes_file:
            _write_activation_codes(subjects, codes_file, enrolled_before, file)
    finally:
        current_actor.reset(actor)
    skipped = f"; skipped {len(summary.skipped)} already imported" if summary.skipped else ""
    click.echo(f"imported {summary.imported} patient(s); rejected {len(summary.rejected)}{skipped}")
    for line, subject in summary.skipped:
        click.echo(f"  line {line} ({subject}): already imported, skipped")
    for line, subject, reason in summary.rejected:
        click.echo(f"  line {line} ({subject or 'no subject_id'}): {reason}")
    if summary.rejected:
        raise SystemExit(1)




@reminders_cli.command("dispatch")
@click.option("--in-process", is_flag=True, help="Send synchronously in this process (no Redis, no RQ worker).")
def dispatch_command(in_process):
    """Claim due reminders and staff messages and enqueue their delivery (the plain-cron fallback of the
    worker's periodic tick); exits 1 when Redis is unavailable, leaving everything due for the next run."""
    from notifications.dispatch import DispatchReport, dispatch_due_in_process
    from notifications.periodic import run_periodic_tasks

    if in_process:
        report = dispatch_due_in_process()
        delivered = report.delivered
        click.echo(f"{report.summary()}; sent {delivered.sent}, failed {delivered.failed}, "
                   f"cancelled {delivered.cancelled}, retrying {len(delivered.retrying)}")
        return
    results, errors = run_periodic_tasks()
    for name, result in results.items():
        click.echo(f"{name}: {result.summary() if isinstance(result, DispatchReport) else result}")
    for error in errors:
        click.echo(f"failed: {error}", err=True)
    if errors or any(isinstance(result, DispatchReport) and result.redis_down for result in results.values()):
        raise SystemExit(1)



@studies_cli.command("replan")
@click.argument("code")
@click.option("--reason", required=True, help="Why (audited), e.g. the amendment number.")
def replan_study_command(code, reason):
    """Re-plan the future calendar of every on-study patient of study CODE after a protocol amendment."""
    from backend.services.calendars import replan_study
    from backend.services.studies import study_by_code

    try:
        study = study_by_code(None, code)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"re-planned {replan_study(study.id, reason)} patient(s) of {code}")


COMMAND_GROUPS = [users_cli, demo_cli, patients_cli, studies_cli, alerts_cli, pfs_cli, reminders_cli]
