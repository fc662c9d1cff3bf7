"""Entry point: run the Typer app and map every outcome to one exit code and one output."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ncctl.errors import EXIT_PARSE, EXIT_SOFTWARE, NcctlError


def _command_from_argv(argv: Sequence[str]) -> str:
    """Best guess of the command path from the arguments, for errors before a command ran."""
    from ncctl.cli.app import command_words

    return " ".join(command_words(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ncctl with ``argv`` (default: ``sys.argv[1:]``) and return the exit code, under
    umask 027: ncctl's own files are never world-readable, never group-writable (the caller's
    umask is put back afterwards, for in-process callers)."""
    import os

    from ncctl.floor import set_umask

    previous = set_umask()
    try:
        return _main(argv)
    finally:
        os.umask(previous)


def _main(argv: Sequence[str] | None) -> int:
    import os

    import typer
    import typer.main
    from typer._click import exceptions as click_exc

    from ncctl.cli import context, output
    from ncctl.cli.app import build_app, entry_named

    args = list(sys.argv[1:] if argv is None else argv)
    context.reset()
    # the run's context, handed to Click: an error found while parsing is already printed
    # in the format the arguments ask for
    run = context.CommandContext(output=context.OutputOptions(output.format_from_argv(args)))
    debug = "--debug" in args
    only = entry_named(args)
    if "_NCCTL_COMPLETE" in os.environ:  # a completion script asks: every group must be known
        from ncctl.cli.completion_cmd import completing

        only = None if completing() else only
    try:
        command = typer.main.get_command(build_app(only))
        rv = command.main(args=args, prog_name="ncctl", standalone_mode=False, obj=run)
    except NcctlError as err:
        output.emit_error(err, run.command or _command_from_argv(args), run.output.format)
        return err.exit_code
    except click_exc.NoArgsIsHelpError as exc:
        exc.show()
        return EXIT_PARSE
    except click_exc.UsageError as exc:
        if run.output.structured:
            parse_err = NcctlError(
                exc.format_message(), hint="see `ncctl --help`", code="usage.parse"
            )
            path = exc.ctx.command_path if exc.ctx is not None else ""
            name = path.removeprefix("ncctl").strip() or _command_from_argv(args)
            output.emit_error(parse_err, name, run.output.format)
        else:
            exc.show()
        return EXIT_PARSE
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        sys.stderr.write("ncctl: aborted\n")
        return 130
    except click_exc.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("ncctl: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if debug or run.options.debug:
            raise
        internal = NcctlError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="run again with --debug for a traceback, and report it",
            code="internal",
        )
        output.emit_error(internal, run.command or _command_from_argv(args), run.output.format)
        return EXIT_SOFTWARE
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
