"""flask CLI: the first admin, the demo data set, the import of an existing trial's patients."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from backend.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data for a laptop.")
patients_cli = AppGroup("patients", help="Patients and their calendars.")


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


def _import_help() -> str:
    from backend.services.patients import IMPORT_COLUMNS, VISITS_HELP

    return (
        "Enrol the patients of an existing trial from FILE (CSV, UTF-8, a header row) and plan their "
        "calendars, with the visits they already had.\n\n"
        f"Columns: {', '.join(IMPORT_COLUMNS)} (timezone, locale and visits optional; study and site are "
        "codes, first_dose_date YYYY-MM-DD, locale en or zh-CN).\n\n"
        + VISITS_HELP.replace("\n", "\n\n\b\n", 1)
        + "\n\nEach patient is all or nothing; rejected rows are listed with their reason."
    )


@patients_cli.command("import", help=_import_help())
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_patients_command(file):
    import csv
    import sys

    from backend.models.audit import SYSTEM_ACTOR, current_actor
    from backend.services.patients import IMPORT_COLUMNS, REQUIRED_IMPORT_COLUMNS, import_patients

    with open(file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        unknown = [name for name in header if name not in IMPORT_COLUMNS]
        missing = [name for name in REQUIRED_IMPORT_COLUMNS if name not in header]
        if unknown or missing:
            raise click.ClickException(
                "; ".join(filter(None, [unknown and f"unknown column(s): {', '.join(unknown)}",
                                        missing and f"missing column(s): {', '.join(missing)}"])))
        rows = [(reader.line_num, row) for row in reader]
    actor = current_actor.set(SYSTEM_ACTOR)  # audited as the system, whatever ran before in this process
    try:
        with click.progressbar(length=len(rows), label="Importing patients", file=sys.stderr) as bar:
            summary = import_patients(rows, source=file, progress=bar.update)
    finally:
        current_actor.reset(actor)
    click.echo(f"imported {summary.imported} patient(s); rejected {len(summary.rejected)}")
    for line, subject, reason in summary.rejected:
        click.echo(f"  line {line} ({subject or 'no subject_id'}): {reason}")
    if summary.rejected:
        raise SystemExit(1)


COMMAND_GROUPS = [users_cli, demo_cli, patients_cli]
