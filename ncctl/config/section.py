"""What every section of the configuration is built from: the base class and shared field types."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

NonEmpty = Annotated[str, Field(min_length=1)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _check_file_ref(value: str) -> str:
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    return value


IDENTITY_NAME = r"^[a-z][a-z0-9_-]{0,62}$"


def _check_identity(value: str) -> str:
    if not re.fullmatch(IDENTITY_NAME, value):
        raise ValueError(
            f"{value!r} is not a lowercase name: letters a-z, digits, '_' and '-', starting "
            'with a letter, at most 63 characters (such as "acme" or "aurora-1")'
        )
    return value


IdentityName = Annotated[str, AfterValidator(_check_identity)]
"""The name of the client or the site: a lowercase name, as Prometheus labels and Alertmanager
routes use it."""

FileRef = Annotated[str, Field(min_length=1), AfterValidator(_check_file_ref)]
"""A file name or path written in the configuration: not empty, no control characters."""


class Section(BaseModel):
    """Every section rejects unknown keys so that a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_default=True, defer_build=True)
