"""``@command``: register a function ``(ctx: CommandContext, **options) -> result`` as a Typer
command whose result the one renderer prints.

Typer sees the function's options without ``ctx`` (help texts and the generated docs are the
same as for a plain Typer command), plus ``--tz`` (``tz=True``) and ``--json`` (``json=True``,
the default) at the end. The command name in the JSON envelope is the parsed command path."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    from ncctl.cli.context import CommandContext

CommandFunction = Callable[..., Any]


def command(
    app: typer.Typer | None,
    name: str,
    *,
    tz: bool = False,
    json: bool = True,
    **settings: Any,
) -> Callable[[CommandFunction], CommandFunction]:
    """Register the decorated function as ``name`` in ``app`` (``None``: return the Typer
    callback, for a top-level command that ``app.ENTRIES`` registers). ``tz``: the command
    declares ``--tz`` after its own options; ``json``: ``--json`` last (a function that has a
    ``json`` parameter declares it itself and is given its value); ``settings``: the Typer
    command settings (such as ``context_settings``)."""

    def register(func: CommandFunction) -> CommandFunction:
        exposed = typer_callback(func, tz=tz, json=json)
        if app is None:
            return exposed
        app.command(name, **settings)(exposed)
        return func

    return register


def typer_callback(func: CommandFunction, *, tz: bool, json: bool) -> CommandFunction:
    """The Typer callback of a ``@command`` function: its signature without ``ctx``, calling
    it with the current :class:`CommandContext` and rendering what it returns."""
    import typer

    from ncctl.cli.options import JsonOpt, TzOpt

    params = list(_evaluated(func).parameters.values())[1:]
    own = {p.name for p in params}
    kind = inspect.Parameter.KEYWORD_ONLY
    if tz and "tz" not in own:
        params.append(inspect.Parameter("tz", kind, default=None, annotation=TzOpt))
    if json and "json" not in own:
        params.append(inspect.Parameter("json", kind, default=False, annotation=JsonOpt))

    @functools.wraps(func)
    def run(click_context: typer.Context, **options: Any) -> None:
        from ncctl.cli.render import render

        ctx = begin(click_context, json=bool(options.get("json")))
        if "tz" not in own:
            options.pop("tz", None)  # the option callback has recorded it
        if "json" not in own:
            options.pop("json", None)
        render(func(ctx, **options), ctx)

    del run.__wrapped__  # Typer reads the signature below
    parsed = inspect.Parameter(
        "click_context", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    run.__signature__ = inspect.Signature([parsed, *params])  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in (parsed, *params)}
    return run


def begin(parsed: typer.Context, *, json: bool) -> CommandContext:
    """The context of the command running now (built by the root callback), named by its
    parsed command path; ``json`` (its ``--json``) is the same as ``-o json``."""
    from ncctl.cli.context import of

    ctx = of(parsed)
    ctx.command = parsed.command_path.partition(" ")[2]
    if json:
        ctx.output.format = "json"
    return ctx


def _evaluated(func: CommandFunction) -> inspect.Signature:
    """The signature of ``func`` with its annotations evaluated (all but the first, the
    context, which the command module may import for type checking only)."""
    sig = inspect.signature(func)
    names = dict(func.__globals__)
    params = [
        p.replace(annotation=eval(p.annotation, names))  # noqa: S307  # our own annotations
        if isinstance(p.annotation, str) and i > 0
        else p
        for i, p in enumerate(sig.parameters.values())
    ]
    return sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
