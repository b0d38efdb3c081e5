"""`tnhl verify`: the checks before go-live, one line each, against the configured location.

Exit 0 when every check passed, 1 when one failed (its line says what to do), 2 when the
settings cannot even make a HighLevel client (the message names the setting).
"""

from __future__ import annotations

import typer

from tnhl.cli._run import ConfigOpt, ConnectionOpt, fail, location_or_exit, settings_or_exit

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(connection: ConnectionOpt = None, config: ConfigOpt = None) -> None:
        """Check the setup against HighLevel: the token, its scopes and the location, then a
        test contact, task and note created, read, updated and deleted (nothing is left);
        with public_url set, that TalkNotes' and HighLevel's webhooks reach tnhl there.

        Run it against a test sub-account first: the test contact may start HighLevel
        workflows that react to new contacts.
        """
        from tnhl.sync import SettingsError, verify_connection, verify_public

        settings = settings_or_exit(config)
        try:
            if not settings.connections:
                settings.require_highlevel()  # names base URL, location or token if missing
        except SettingsError as exc:
            fail(str(exc))
        location = location_or_exit(settings, connection)
        targets = [c for c in settings.connection_list() if location in (None, c.location_id)]
        if not targets:
            fail("no connection to verify: set location_id, or list them in `connections:`")
        failed = 0
        for conn in targets:
            if len(targets) > 1:
                typer.echo(f"connection {conn.name} (location {conn.location_id}):")
            try:
                checks = verify_connection(
                    settings, conn, report=lambda check: typer.echo(check.line())
                )
            except SettingsError as exc:
                fail(str(exc))
            failed += sum(check.failed for check in checks)
        if len(targets) > 1:
            typer.echo("public URL (every connection):")
        public = verify_public(settings, targets, report=lambda check: typer.echo(check.line()))
        failed += sum(check.failed for check in public)
        if failed:
            what = "1 check" if failed == 1 else f"{failed} checks"
            typer.echo(f"{what} failed: see FAIL above, then run `tnhl verify` again", err=True)
            raise typer.Exit(1)
        typer.echo("all checks passed: start syncing with `tnhl run`")
