"""Serving and registering: `habitus serve`, and `habitus install CLIENT` for assistants."""

from __future__ import annotations

from pathlib import Path

import click

from habitus.base.errors import HabitusError

from .common import State, emit, json_option, pass_state

__all__ = ["register"]


def _install_hooks(
    state: State, client: str, project_dir: Path | None, command: str, args: list[str], *,
    dry_run: bool, local: bool, url: str | None, remove: bool, as_json: bool, hooks: bool,
) -> None:
    """Add (or remove) habitus's lifecycle hooks in Claude Code's settings file."""
    from habitus.clients.hooks import apply_hooks, plan_hooks, settings_path

    if not hooks:
        raise click.UsageError("--local, --hooks-url and --remove go with --hooks")
    if client != "claude-code":
        raise click.UsageError("lifecycle hooks are installed for claude-code; other clients "
                               "get the MCP tools and `habitus compile`")
    scope = "local" if local else ("project" if project_dir else "user")
    db = args[args.index("--db") + 1: args.index("--db") + 2] if "--db" in args else []
    prefix = args[: args.index("--db")] if "--db" in args else args[: args.index("serve")]
    hook_command = [command, *prefix, "hook", *(["--db", *db] if db else [])]
    try:
        plan = plan_hooks(settings_path(scope, project_dir=project_dir),  # type: ignore[arg-type]
                          command=None if url else hook_command, url=url, remove=remove)
    except HabitusError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:
        click.echo(plan.diff() or f"{plan.path} already as wanted")
    else:
        apply_hooks(plan)
    verb = ("would " if dry_run else "") + ("remove hooks from" if remove else "add hooks to")
    if not as_json:
        click.echo(f"{verb} {plan.path}" + ("" if plan.changed else " (nothing to change)"))


def register(group: click.Group) -> None:
    """Add the serving commands to the `habitus` group."""

    @group.command()
    @click.option(
        "--transport",
        type=click.Choice(["stdio", "sse", "http"]),
        default="stdio",
        show_default=True,
        help="stdio for assistants that spawn habitus; sse or http to listen.",
    )
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
    @click.option(
        "--allow-host",
        "allow_hosts",
        multiple=True,
        help="Beyond loopback: another name clients may reach this server by (repeatable).",
    )
    @click.option("--idle-exit", type=click.FloatRange(1), metavar="SECONDS",
                  help="Over HTTP: leave after this long without a request.")
    @pass_state
    def serve(
        state: State, transport: str, host: str, port: int, allow_hosts: tuple[str, ...],
        idle_exit: float | None,
    ) -> None:
        """Run the MCP server.

        Over stdio the client is answered at once while the server loads. Over HTTP,
        assistants' lifecycle hooks are taken at /hooks (see `habitus hook`).
        Beyond 127.0.0.1 every request needs the access token (`habitus token`)."""
        if transport == "stdio":
            from habitus.server.front import serve_stdio  # starts without the MCP SDK

            serve_stdio(state.settings)
        from habitus.server.serve import serve as run

        run(state.settings, transport, host, port, allow_hosts,  # type: ignore[arg-type]
            idle_exit=idle_exit)

    @group.command()
    @click.option("--no-browser", is_flag=True, help="Print the address; open nothing.")
    @pass_state
    def ui(state: State, no_browser: bool) -> None:
        """Open the web view of the store: on its running server, or on one started now in the
        background. The address carries your access token; keep it to yourself."""
        import webbrowser

        from habitus.base import endpoint
        from habitus.base.access_token import access_token
        from habitus.lifecycle import daemon

        db = state.settings.resolved_db()
        found = endpoint.find(db) or daemon.start(db)
        if found is None:
            raise click.ClickException(f"no server started; see {daemon.log_file(db)}")
        url = f"{found['url']}/search?token={access_token()}"
        click.echo(url)
        if not no_browser:
            webbrowser.open(url)

    @group.command()
    def token() -> None:
        """Print the access token that requests to a server listening beyond this machine
        must carry (Authorization: Bearer TOKEN); created on first use, readable only by you."""
        from habitus.base.access_token import access_token

        click.echo(access_token())

    @group.command()
    @click.argument("client")
    @click.option(
        "--project",
        "project_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Register for this project only (where the client supports it).",
    )
    @click.option("--url", help="Register a running HTTP server at this URL instead of stdio.")
    @click.option("--name", default="habitus", show_default=True)
    @click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
    @click.option(
        "--print", "print_only", is_flag=True, help="Print the resulting file; write nothing."
    )
    @click.option("--hooks", is_flag=True,
                  help="claude-code: also add lifecycle hooks (automatic memory) to its settings.")
    @click.option("--local", is_flag=True,
                  help="With --hooks --project: the local settings file (not committed).")
    @click.option("--hooks-url", metavar="URL",
                  help="With --hooks: post events to the server at URL instead of running "
                  "a command per event.")
    @click.option("--remove", is_flag=True, help="With --hooks: take habitus's hooks out.")
    @json_option
    @pass_state
    def install(
        state: State,
        client: str,
        project_dir: Path | None,
        url: str | None,
        name: str,
        dry_run: bool,
        print_only: bool,
        hooks: bool,
        local: bool,
        hooks_url: str | None,
        remove: bool,
        as_json: bool,
    ) -> None:
        """Register habitus in CLIENT's MCP configuration (claude-desktop, claude-code, cursor,
        vscode, windsurf, zed); with --hooks, Claude Code also captures and recalls by itself."""
        from habitus.clients import apply_install, default_server_command, plan_install

        command, args = default_server_command(state.settings.db)
        if hooks or remove or local or hooks_url:
            _install_hooks(state, client, project_dir, command, args, dry_run=dry_run,
                           local=local, url=hooks_url, remove=remove, as_json=as_json,
                           hooks=hooks)
            if remove:
                return
        try:
            plan = plan_install(
                client,
                name=name,
                command=command,
                args=args,
                url=url,
                scope="project" if project_dir else "user",
                project_dir=project_dir,
            )
        except HabitusError as exc:
            raise click.ClickException(str(exc)) from exc
        if print_only:
            click.echo(plan.new_text)
            return
        if not dry_run and plan.changed:
            apply_install(plan)
        verb = "would write" if dry_run else ("wrote" if plan.changed else "already registered in")
        emit(
            {
                "client": plan.client,
                "path": str(plan.path),
                "changed": plan.changed,
                "written": plan.changed and not dry_run,
                "entry": plan.entry,
            },
            as_json,
            lambda r: f"{verb} {r['path']}",
        )
