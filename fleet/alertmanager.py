"""Write an Alertmanager configuration for a fleet of ncctl hosts, its mute times taken from
ncctl's own schedule data so that they cannot drift from what ncctl runs.

``python -m fleet.alertmanager --client NAME [--client NAME ...] [--output FILE]``

* one route per client (``client="NAME"``, the label every target of the fleet carries from
  the file-based service discovery that ``playbooks/prometheus.yml`` writes), alerts grouped
  by ``[client, alertname]``, with its own receiver (a webhook under ``--webhook``);
* ``time_intervals``: ``cme-maintenance`` from the weekly template's ``maintenance`` window
  (Mon-Thu 16:01 to 16:30 exclusive, so 16:01-16:29) and ``cme-holidays`` from the holiday
  tables (a full closure mutes the whole trade date, an early close from its close time to
  the end of the day), in the template's zone (America/Chicago): Alertmanager applies the
  zone's DST rules itself;
* every client route mutes notifications in both (``mute_time_intervals``): an alert still
  firing when the interval ends is notified then.

``--template`` and ``--holidays`` name the schedule as ncctl's configuration does
(``schedule.template``, ``schedule.holidays``; built-in names or ``.toml`` paths); by default
ncctl's own defaults. ``fleet/alertmanager.example.yml`` is this tool's output for two example
clients (the tests check that it is).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

WEEKDAYS = {
    "Mon": "monday",
    "Tue": "tuesday",
    "Wed": "wednesday",
    "Thu": "thursday",
    "Fri": "friday",
    "Sat": "saturday",
    "Sun": "sunday",
}
MAINTENANCE = "cme-maintenance"
HOLIDAYS = "cme-holidays"
WEBHOOK = "http://alert-relay.invalid:5001/ncctl/"
"""Where the example's receivers post (``.invalid``: a placeholder that resolves nowhere)."""


class ToolError(Exception):
    """A bad argument or schedule file: one line on stderr, exit 64 or 78."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def mute_intervals(template: Any, tables: Sequence[Any]) -> list[dict[str, Any]]:
    """Alertmanager ``time_intervals`` for the maintenance window of ``template`` (a
    :class:`ncctl.schedule.files.WeeklyTemplate`) and the holidays of ``tables``."""
    zone = template.tz
    windows = [w for w in template.windows if w.name == "maintenance"]
    if not windows:
        raise ToolError("the weekly template has no window named 'maintenance'", 78)
    maintenance = [
        {
            "weekdays": [WEEKDAYS[d] for d in w.days],
            "times": [{"start_time": w.start, "end_time": w.end}],
            "location": zone,
        }
        for w in windows
    ]
    holidays: list[dict[str, Any]] = []
    for table in tables:
        for h in sorted(table.holidays, key=lambda h: h.date):
            day: dict[str, Any] = {
                "years": [str(h.date.year)],
                "months": [str(h.date.month)],
                "days_of_month": [str(h.date.day)],
                "location": zone,
            }
            if h.kind == "early_close":
                day["times"] = [{"start_time": h.close, "end_time": "24:00"}]
            holidays.append(day)
    if not holidays:
        raise ToolError("the holiday tables list no holiday", 78)
    return [
        {"name": MAINTENANCE, "time_intervals": maintenance},
        {"name": HOLIDAYS, "time_intervals": holidays},
    ]


def configuration(
    clients: Sequence[str], intervals: list[dict[str, Any]], webhook: str
) -> dict[str, Any]:
    """The whole Alertmanager configuration: a default route and one route per client."""
    from ncctl.config.section import IDENTITY_NAME

    for name in clients:
        if not re.fullmatch(IDENTITY_NAME, name):
            raise ToolError(
                f"--client {name!r}: a client is a lowercase name (letters, digits, '_', '-', "
                "starting with a letter), as in ncctl's configuration",
                64,
            )
    if len(set(clients)) != len(clients):
        raise ToolError("--client: a client is named twice", 64)
    muted = [i["name"] for i in intervals]
    return {
        "route": {
            "receiver": "operations",
            "group_by": ["client", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "matchers": [f'client="{name}"'],
                    "receiver": f"client-{name}",
                    "mute_time_intervals": list(muted),  # no YAML anchors
                }
                for name in clients
            ],
        },
        "receivers": [
            {"name": "operations", "webhook_configs": [{"url": f"{webhook}operations"}]},
            *(
                {"name": f"client-{name}", "webhook_configs": [{"url": f"{webhook}{name}"}]}
                for name in clients
            ),
        ],
        "time_intervals": intervals,
    }


def render(
    clients: Sequence[str],
    *,
    template: str | None = None,
    holidays: Sequence[str] | None = None,
    webhook: str = WEBHOOK,
) -> str:
    """The configuration as YAML, with a header that says where it comes from."""
    from ncctl.schedule.files import load_holiday_table, load_template
    from ncctl.schedule.section import ScheduleConfig

    given: dict[str, Any] = {}
    if template is not None:
        given["template"] = template
    if holidays is not None:
        given["holidays"] = list(holidays)
    schedule = ScheduleConfig.model_validate(given)
    intervals = mute_intervals(
        load_template(schedule.template_path()),
        [load_holiday_table(p) for p in schedule.holiday_paths()],
    )
    doc = configuration(clients, intervals, webhook)
    yaml = importlib.import_module("yaml")  # PyYAML: ansible-core's dependency on the controller
    body: str = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100)
    names = ", ".join([schedule.template, *schedule.holidays])
    args = " ".join(f"--client {c}" for c in clients)
    return (
        "# Alertmanager configuration for a fleet of ncctl hosts. Generated by\n"
        f"# `python -m fleet.alertmanager {args}` from ncctl's schedule data ({names}):\n"
        "# regenerate it (never edit the time intervals by hand) when the holiday tables change.\n"
        "# Check it with `amtool check-config FILE`.\n" + body
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ToolError(f"{message} (see --help)", 64)


def main(argv: list[str] | None = None) -> int:
    """Write the configuration (``--output``: atomically, mode 0640, the old file kept when
    anything fails); a failure is one line on stderr and exit 64, 69, 73 or 78."""
    parser = _Parser(prog="fleet.alertmanager", description=__doc__.split("\n")[0])
    parser.add_argument("--client", action="append", default=[], metavar="NAME", required=True)
    parser.add_argument("--template", help="schedule.template (default: ncctl's)")
    parser.add_argument(
        "--holidays", action="append", metavar="TABLE", help="schedule.holidays (repeat)"
    )
    parser.add_argument("--webhook", default=WEBHOOK, help="URL prefix of the receivers")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    from pydantic import ValidationError

    from ncctl.errors import NcctlError
    from ncctl.floor import write_text_atomic

    try:
        args = parser.parse_args(argv)
        text = render(
            args.client, template=args.template, holidays=args.holidays, webhook=args.webhook
        )
        if args.output is not None:
            write_text_atomic(args.output, text)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except NcctlError as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        print(f"error: schedule.{where}: {problem['msg']}", file=sys.stderr)
        return 78
    except ImportError as exc:
        print(f"error: {exc} (PyYAML: install ncctl's dev extra)", file=sys.stderr)
        return 69
    if args.output is None:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
