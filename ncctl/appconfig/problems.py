"""A problem of a configuration (by key path), and the error that lists them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ncctl.errors import ConfigError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration: where (a dotted key path), what, what to do."""

    key: str
    message: str
    hint: str
    severity: Severity = "error"
    refused: bool = False
    """The schema refuses the setting (the file does not load at all), as opposed to a
    setting that loads but cannot work."""

    def as_dict(self) -> dict[str, str]:
        return {
            "key": self.key,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }

    def line(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigProblems(ConfigError):
    """A configuration with at least one error: the first in the message, all of them below."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        first = next((p for p in problems if p.severity == "error"), problems[0])
        message = f"{source}: {first.line()}"
        hint = first.hint
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more, listed below)"
            hint = "fix each key listed, then run `ncctl config validate` again"
        code = "config.invalid" if any(p.refused for p in problems) else "config.problems"
        super().__init__(message, hint=hint, code=code)
        self.problems = problems

    def detail_lines(self) -> list[str]:
        if len(self.problems) < 2:
            return []
        lines: list[str] = []
        for p in self.problems:
            lines += [f"  {p.severity}: {p.line()}", f"    hint: {p.hint}"]
        return lines
