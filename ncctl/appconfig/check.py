"""What keeps a configuration that parses from working: every problem at once, by key path.

:func:`check_config` looks past the schema (which :mod:`ncctl.appconfig.load` enforces on
loading) at what the file points to and at values a template writes to be replaced:

- the tuning profile ``tuning.profile`` names, loaded as ``ncctl tune`` loads it;
- key and secret files (``destinations.*.key_file``, ``ilink.secret_key_file``,
  ``metrics.tls_key``): present, regular files (a symbolic link is never followed: opened
  ``O_NOFOLLOW``), owned by root or this user, not readable by group or others; the iLink key
  file is read as ``ncctl party`` reads it;
- files others must not change (``known_hosts``, ``metrics.tls_cert``,
  ``metrics.tls_client_ca``): present, regular, not writable by group or others;
- placeholders: values such as ``set-me``, hosts under a name RFC 2606 reserves
  (``.invalid``, ``.example``, ``example.com``), files the template names that do not exist;
- SFTP destinations whose ``known_hosts`` pins no key for their ``host:port``;
- ``/metrics`` beyond loopback without TLS (an error), or without client certificates (a
  warning).

Nothing is written and nothing goes over the network.

The checks of files and of each part are in :mod:`ncctl.appconfig.file_checks`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.appconfig.file_checks import (
    destination_problems,
    ilink_problems,
    metrics_problems,
    tuning_problems,
)
from ncctl.appconfig.problems import ConfigProblem
from ncctl.errors import ConfigError

if TYPE_CHECKING:
    from ncctl.appconfig.model import LoadedConfig, NcctlConfig

_PLACEHOLDER_WORDS = frozenset(
    {"setme", "changeme", "replaceme", "fillmein", "fillme", "todo", "tbd", "fixme", "placeholder"}
)
_RESERVED_TLDS = ("invalid", "example", "test")
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")


def check_config(loaded: LoadedConfig) -> list[ConfigProblem]:
    """Every problem of ``loaded`` (errors and warnings), in the order of the file's parts."""
    cfg = loaded.config
    problems = list(_placeholder_values(loaded.document))
    flagged = {p.key for p in problems}
    problems += tuning_problems(cfg)
    problems += destination_problems(cfg, flagged)
    ilink, key_id_in_file = ilink_problems(cfg, flagged)
    if key_id_in_file:  # the key file names the access key id: the configured one is unused
        problems = [p for p in problems if p.key != "ilink.access_key_id"]
    problems += ilink
    problems += metrics_problems(cfg, flagged)
    first: dict[str, ConfigProblem] = {}
    for problem in problems:  # one per key: a placeholder rather than the missing file it names
        first.setdefault(problem.key, problem)
    return in_file_order(list(first.values()), loaded.document)


def in_file_order(
    problems: list[ConfigProblem], document: Mapping[str, Any]
) -> list[ConfigProblem]:
    """``problems`` in the order their keys (or the tables holding them) come in the file;
    keys the file does not set come last."""
    order: dict[str, int] = {}
    for i, (key, _) in enumerate(_walk(document, "")):
        for end in [m.start() for m in re.finditer(r"[.\[]", key)] + [len(key)]:
            order.setdefault(key[:end], i)
    return sorted(problems, key=lambda p: order.get(p.key, len(order)))


# -- the schema, and the rest despite it ----------------------------------------------------

MAX_REPAIRS = 16
"""How many times settings the schema refuses are left out before giving up on the rest."""


def load_checked(
    path: Path, source: str, *, credentials: bool = False
) -> tuple[LoadedConfig, list[ConfigProblem]]:
    """The configuration at ``path`` and every problem of it, the schema's included: settings
    the schema refuses are listed, then left out (their defaults stand in) so that the rest
    is checked too. A file that cannot be read as a TOML document raises ConfigError as
    :func:`ncctl.appconfig.load.load_file` does. ``credentials``: key paths from systemd's
    credentials directory, as for the resolved configuration."""
    from ncctl.appconfig.load import load_file
    from ncctl.appconfig.model import LoadedConfig
    from ncctl.config.files import base_dir
    from ncctl.floor import trust_service_user

    try:
        cfg, doc = load_file(path, source)
        schema: list[ConfigProblem] = []
        dropped: list[str] = []
    except ConfigError as err:
        repaired = _repaired(path, source)
        if repaired is None:
            raise err from None
        cfg, doc, schema, dropped = repaired
    if credentials:
        from ncctl.appconfig.credentials import with_credentials

        cfg = with_credentials(cfg)
    trust_service_user(cfg.systemd.user)
    loaded = LoadedConfig(cfg, path, source, doc, base_dir(path, source))
    refused = {p.key for p in schema}
    rest = [
        p
        for p in check_config(loaded)
        if p.key not in refused and not any(_within(p.key, d) for d in dropped)
    ]
    if not schema:
        return loaded, rest
    original = read_document(path)
    return loaded, in_file_order(schema + rest, original or doc)


def read_document(path: Path) -> dict[str, Any] | None:
    from ncctl.config import files

    try:
        return files.read_document(path)
    except ConfigError:
        return None


def _within(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith((prefix + ".", prefix + "["))


def _repaired(
    path: Path, source: str
) -> tuple[NcctlConfig, dict[str, Any], list[ConfigProblem], list[str]] | None:
    """(the configuration without the settings the schema refuses, its document, a problem
    per refusal, the key paths left out), or None when the file cannot be read or repaired."""
    import copy

    from pydantic import ValidationError

    from ncctl.appconfig.model import NcctlConfig
    from ncctl.config.files import base_dir
    from ncctl.config.paths import context
    from ncctl.validation import describe_errors, key_path

    original = read_document(path)
    if not original:
        return None
    doc = copy.deepcopy(original)
    problems: list[ConfigProblem] = []
    dropped: list[str] = []
    for _ in range(MAX_REPAIRS):
        try:
            cfg = NcctlConfig.model_validate(doc, context=context(base_dir(path, source)))
        except ValidationError as exc:
            errors = describe_errors(exc)
            if not problems:  # the file as written: every refusal
                problems = [_refusal(key_path(loc), msg) for loc, msg in errors]
            removed = _drop(doc, [loc for loc, _ in errors])
            if not removed:
                return None
            dropped += removed
            continue
        cross = cfg.cross_reference_problem()
        if cross is not None and not any(_within(d, "destinations") for d in dropped):
            hint = f"add the destination or fix the name in {cross[0]}"
            problems.append(ConfigProblem(cross[0], cross[1], hint, refused=True))
        return cfg, doc, problems, dropped
    return None


def _refusal(key: str, msg: str) -> ConfigProblem:
    if msg == "unknown key":
        hint = f"remove {key} or correct its spelling (see docs/design.md for the keys)"
    elif msg == "required key is missing":
        hint = f"add {key}"
    else:
        hint = f"give {key} a value it accepts"
    return ConfigProblem(key, msg, hint, refused=True)


def _drop(doc: dict[str, Any], locs: list[tuple[int | str, ...]]) -> list[str]:
    """Remove the setting at each location (or, where it is not set, the nearest table
    holding it); the key paths removed."""
    from ncctl.validation import key_path

    removed: list[str] = []
    # deepest first, and the later items of a list before the earlier ones
    for loc in sorted(set(locs), key=_sort_key, reverse=True):
        for end in range(len(loc), 0, -1):
            parent: Any = doc
            for part in loc[: end - 1]:
                parent = _child(parent, part)
            if _child(parent, loc[end - 1]) is not None:
                del parent[loc[end - 1]]
                removed.append(key_path(loc[:end]))
                break
    return removed


def _sort_key(loc: tuple[int | str, ...]) -> tuple[tuple[int, str], ...]:
    return tuple((p, "") if isinstance(p, int) else (-1, p) for p in loc)


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


# -- placeholders -------------------------------------------------------------------------


def placeholder_text(value: str) -> bool:
    """Whether ``value`` is a value a template writes to be replaced (``set-me``, ``<...>``)."""
    text = value.strip()
    word = re.sub(r"[\s_.-]", "", text.lower())
    return word in _PLACEHOLDER_WORDS or (len(text) > 2 and text[0] == "<" and text[-1] == ">")


def placeholder_host(host: str) -> bool:
    """Whether ``host`` is under a name RFC 2606 reserves, so it cannot be the real server."""
    name = host.strip().rstrip(".").lower()
    labels = name.split(".")
    return labels[-1] in _RESERVED_TLDS or any(
        name == d or name.endswith("." + d) for d in _RESERVED_DOMAINS
    )


def _walk(value: Any, key: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _walk(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{key}[{i}]")
    else:
        yield key, value


def _placeholder_values(document: Mapping[str, Any]) -> Iterator[ConfigProblem]:
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.config.masking import mask_value

    for key, value in _walk(document, ""):
        if not isinstance(value, str) or not placeholder_text(value):
            continue
        secret = mask_value(NcctlConfig, key, value) != value
        yield ConfigProblem(
            key,
            f"{'the value' if secret else repr(value)} is a placeholder, to be replaced with "
            "the real value",
            hint=f"set the real value: `ncctl config set {key} "
            + ("-` and type it (it is a secret)" if secret else "VALUE`"),
        )
    for key, host in _hosts(document):
        if placeholder_host(host):
            yield ConfigProblem(
                key,
                f"host {host!r} is a placeholder (RFC 2606 reserves that name; it resolves "
                "nowhere)",
                hint=f"put the real server's host name or address in {key}",
            )


def _hosts(document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, host) of every host a configuration names."""
    from ncctl.logs.url import parse_destination_url

    destinations = document.get("destinations")
    if isinstance(destinations, Mapping):
        for name, dest in destinations.items():
            url = dest.get("url") if isinstance(dest, Mapping) else None
            if isinstance(url, str) and url.startswith("sftp://"):
                yield f"destinations.{name}.url", parse_destination_url(url).host
    for table, field in (("ilink", "host"), ("metrics", "listen")):
        section = document.get(table)
        value = section.get(field) if isinstance(section, Mapping) else None
        if isinstance(value, str):
            yield f"{table}.{field}", value
