"""flask CLI: the first admin, the demo data set, the daily PFS early-warning scan."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from backend.errors import DomainError

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo data for a laptop.")
pfs_cli = AppGroup("pfs", help="Progression-free survival: the early warning.")


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


@pfs_cli.command("scan")
@click.option("--now", "now", default=None, help="Evaluate at this instant (RFC 3339 with an offset); default now.")
def pfs_scan_command(now):
    """Queue PFS early warnings for the site nurses of every on-study patient at risk; run daily."""
    from datetime import datetime, timezone

    from backend.services.pfs import scan_pfs_risk

    instant = datetime.now(timezone.utc)
    if now:
        try:
            instant = datetime.fromisoformat(now)
        except ValueError:
            raise click.BadParameter("not an RFC 3339 instant", param_hint="--now") from None
        if instant.tzinfo is None:
            raise click.BadParameter("give an offset, e.g. 2026-03-01T06:00:00Z", param_hint="--now")
    summary = scan_pfs_risk(instant.astimezone(timezone.utc))
    click.echo(f"{summary.patients} on-study patients, {summary.at_risk} at risk, {summary.queued} messages queued")


COMMAND_GROUPS = [users_cli, demo_cli, pfs_cli]
