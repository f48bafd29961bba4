"""flask CLI: the first admin, the demo data set, dispatching reminders by hand or from a plain cron."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from backend.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data for a laptop.")
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


@reminders_cli.command("dispatch")
@click.option("--in-process", is_flag=True, help="Send synchronously in this process (no Redis, no RQ worker).")
def dispatch_command(in_process):
    """Claim due reminders and staff messages and enqueue their delivery (the plain-cron fallback of the
    worker's periodic tick); exits 1 when Redis is unavailable, leaving everything due for the next run."""
    from notifications.dispatch import DispatchReport, dispatch_due_in_process, run_periodic_tasks

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


COMMAND_GROUPS = [users_cli, demo_cli, reminders_cli]
