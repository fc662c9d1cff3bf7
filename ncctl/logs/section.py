"""The ``[logs]`` section (categories rotated and uploaded) and the ``[destinations.*]`` tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from ncctl.config.paths import ConfigPath, PathText, UrlFromBase
from ncctl.config.section import FileRef, NonEmpty, Section


class LogCategory(Section):
    """A kind of file rotated every trading day and uploaded: audit trail, trade log, ION.

    ``mode = "rename"`` renames the live file and has the writer reopen it: nothing is lost.
    It needs to know how the writer reopens: ``owner`` names the component ncctl sends SIGHUP
    (``reopen = "signal"``, the default with an owner), or ``reopen = "self"`` says the writer
    reopens by itself. Either way the renamed file is compressed and removed only once no
    process holds it open for writing (the kernel's writer count, and /proc to name the
    writer); until then it is kept as it is and every rotation run checks again.
    ``mode = "copytruncate"`` copies then truncates it in place, for writers that cannot
    reopen: whatever the writer appends between the copy and the truncation is lost.
    """

    path: Annotated[FileRef, PathText]
    owner: Literal["feed_handler", "order_session"] | None = None
    mode: Literal["rename", "copytruncate"] = "rename"
    reopen: Literal["signal", "self"] | None = None
    compress: Literal["none", "gzip", "zstd"] = "gzip"
    destinations: list[NonEmpty] = Field(default_factory=list)
    retain_days: int = Field(default=1830, ge=1, le=36500)
    archive_dir: ConfigPath | None = None
    reopen_timeout_s: float = Field(default=10.0, gt=0, le=600)

    @model_validator(mode="after")
    def _reopen_known(self) -> LogCategory:
        if self.mode == "rename" and self.owner is None and self.reopen != "self":
            from pydantic_core import PydanticCustomError

            raise PydanticCustomError(
                "reopen_unknown",
                'mode = "rename" needs owner (the component ncctl signals to reopen the '
                'file) or reopen = "self" (the writer reopens by itself); or use mode = '
                '"copytruncate"',
            )
        return self

    @property
    def signals_owner(self) -> bool:
        """Whether the rotation sends SIGHUP to ``owner`` after renaming the live file."""
        return self.mode == "rename" and self.owner is not None and self.reopen != "self"


class LogsConfig(Section):
    """The three categories; archives go to ``archive_dir/CATEGORY`` unless a category says
    (``archive_dir`` defaults to ``state_dir/archive``)."""

    audit: LogCategory | None = None
    trade: LogCategory | None = None
    ion: LogCategory | None = None
    archive_dir: ConfigPath = Path(".ncctl/archive")
    lock_timeout_s: float = Field(default=30.0, ge=0, le=3600)

    def categories(self) -> dict[str, LogCategory]:
        """The configured categories by name, in a fixed order."""
        found = {"audit": self.audit, "trade": self.trade, "ion": self.ion}
        return {name: cat for name, cat in found.items() if cat is not None}

    def archive_for(self, name: str) -> Path:
        cat = self.categories()[name]
        return cat.archive_dir or self.archive_dir / name


def _check_url(value: str) -> str:
    from ncctl.logs.url import parse_destination_url

    parse_destination_url(value)  # raises ValueError naming the problem
    return value


DestinationUrl = Annotated[str, AfterValidator(_check_url), UrlFromBase]


def _check_algorithms(value: list[str]) -> list[str]:
    from ncctl.logs.ssh_algorithms import check_allowed

    return check_allowed(value)  # raises ValueError naming the bad entry


AllowedAlgorithms = Annotated[list[str], AfterValidator(_check_algorithms)]


class DestinationConfig(Section):
    """Where archives are uploaded: ``sftp://user@host:port/dir`` or ``file:///dir``.

    SFTP uses key authentication only (``key_file``; no agent, no key search) and strict host
    keys from ``known_hosts``. ``verify`` says how an upload is confirmed: ``size`` (remote
    size), ``readback`` (read the file back and hash it; the default) or ``exec`` (run
    ``sha256sum`` on the server, where the account has a shell).

    Weak SSH algorithms (CBC ciphers, HMAC-SHA1/MD5, SHA-1 key exchange, ``ssh-rsa``/``ssh-dss``
    host-key signatures) are refused; ``allow_algorithms`` names those this one server may use.
    """

    url: DestinationUrl
    key_file: ConfigPath | None = None
    known_hosts: ConfigPath | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    retries: int = Field(default=5, ge=0, le=100)
    backoff_s: float = Field(default=2.0, ge=0, le=300)
    verify: Literal["size", "readback", "exec"] = "readback"
    allow_algorithms: AllowedAlgorithms = Field(default_factory=list)

    @model_validator(mode="after")
    def _sftp_needs_keys(self) -> DestinationConfig:
        if self.url.startswith("sftp://"):
            if self.key_file is None:
                raise ValueError("an sftp destination needs key_file")
            if self.known_hosts is None:
                raise ValueError("an sftp destination needs known_hosts (host keys are strict)")
        elif self.allow_algorithms:
            raise ValueError("allow_algorithms applies to sftp destinations only")
        return self
