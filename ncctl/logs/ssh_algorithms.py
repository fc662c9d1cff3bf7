"""The SSH algorithm floor of SFTP destinations: what ncctl refuses to negotiate by default.

Refused unless a destination's ``allow_algorithms`` names them: CBC ciphers (and the other
legacy ciphers), HMAC-SHA1 and HMAC-MD5 in every variant (``-96``, ``-etm``), SHA-1 key
exchange (``diffie-hellman-group1-sha1``, ``diffie-hellman-group14-sha1``,
``diffie-hellman-group-exchange-sha1``) and SHA-1 host-key signatures (``ssh-rsa``,
``ssh-dss`` and their certificates). RSA host keys stay usable through ``rsa-sha2-256`` and
``rsa-sha2-512``.

This module imports nothing from paramiko at import time: the configuration validates
``allow_algorithms`` against :data:`WEAK` without loading it.

paramiko 5 no longer implements ``diffie-hellman-group14-sha1`` and
``diffie-hellman-group-exchange-sha1``; :func:`legacy_kex` rebuilds them from paramiko's own
SHA-256 classes (the same groups, the exchange hash taken with SHA-1, as paramiko 3 did), so
that ``allow_algorithms`` can still reach a server that offers nothing else. They are never
proposed unless named there. ``diffie-hellman-group1-sha1`` (a 1024-bit group), ``ssh-rsa``
and ``ssh-dss`` host keys stay unavailable where paramiko dropped them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import paramiko

WEAK: dict[str, tuple[str, ...]] = {
    "key exchange": (
        "diffie-hellman-group1-sha1",
        "diffie-hellman-group14-sha1",
        "diffie-hellman-group-exchange-sha1",
    ),
    "host key": (
        "ssh-rsa",
        "ssh-dss",
        "ssh-rsa-cert-v01@openssh.com",
        "ssh-dss-cert-v01@openssh.com",
    ),
    "cipher": (
        "aes128-cbc",
        "aes192-cbc",
        "aes256-cbc",
        "3des-cbc",
        "blowfish-cbc",
        "cast128-cbc",
        "rijndael-cbc@lysator.liu.se",
        "arcfour",
        "arcfour128",
        "arcfour256",
    ),
    "mac": (
        "hmac-sha1",
        "hmac-sha1-96",
        "hmac-sha1-etm@openssh.com",
        "hmac-sha1-96-etm@openssh.com",
        "hmac-md5",
        "hmac-md5-96",
        "hmac-md5-etm@openssh.com",
        "hmac-md5-96-etm@openssh.com",
    ),
}
"""Algorithms refused by default, by kind (the names OpenSSH uses)."""

WEAK_NAMES: frozenset[str] = frozenset(name for names in WEAK.values() for name in names)

_OPTION: dict[str, tuple[str, str]] = {
    "key exchange": ("kex", "_kex_info"),
    "host key": ("key_types", "_key_info"),
    "cipher": ("ciphers", "_cipher_info"),
    "mac": ("digests", "_mac_info"),
}
"""paramiko's SecurityOptions attribute and Transport table of supported names, by kind."""

_OFFER_LISTS: dict[str, tuple[str, ...]] = {
    "key exchange": ("kex_algo_list",),
    "host key": ("server_key_algo_list",),
    "cipher": ("client_encrypt_algo_list", "server_encrypt_algo_list"),
    "mac": ("client_mac_algo_list", "server_mac_algo_list"),
}
"""Where a server's KEXINIT (as paramiko parses it) lists each kind."""

_SIGNALS = ("ext-info-", "kex-strict-")


def check_allowed(names: Sequence[str]) -> list[str]:
    """Validate ``allow_algorithms``: every name must be one this floor refuses, once each.

    Raises ValueError naming the first bad entry (pydantic reports it under the key)."""
    seen: set[str] = set()
    for name in names:
        if name not in WEAK_NAMES:
            raise ValueError(
                f"{name!r} is not an algorithm ncctl refuses by default; allow_algorithms "
                f"re-enables only these: {', '.join(sorted(WEAK_NAMES))}"
            )
        if name in seen:
            raise ValueError(f"{name!r} is listed twice")
        seen.add(name)
    return list(names)


def kind_of(name: str) -> str:
    return next(kind for kind, names in WEAK.items() if name in names)


def legacy_kex() -> dict[str, Any]:
    """The SHA-1 key exchanges, by name, built on paramiko's SHA-256 implementations."""
    from hashlib import sha1

    from paramiko.kex_gex import KexGexSHA256
    from paramiko.kex_group14 import KexGroup14SHA256

    class KexGroup14SHA1(KexGroup14SHA256):
        name = "diffie-hellman-group14-sha1"
        hash_algo = sha1

    class KexGexSHA1(KexGexSHA256):
        name = "diffie-hellman-group-exchange-sha1"
        hash_algo = sha1

    return {kex.name: kex for kex in (KexGroup14SHA1, KexGexSHA1)}


def unsupported(transport: paramiko.Transport, names: Iterable[str]) -> list[str]:
    """Those of the weak ``names`` that this paramiko does not implement at all."""
    return [name for name in names if name not in getattr(transport, _OPTION[kind_of(name)][1])]


def apply_floor(transport: paramiko.Transport, allowed: Iterable[str]) -> list[str]:
    """Remove the weak algorithms from ``transport``'s preferences, except ``allowed`` ones,
    which are added last (least preferred). Returns the allowed names this paramiko cannot
    speak at all (they stay off)."""
    allowed = list(allowed)
    missing = unsupported(transport, allowed)
    options = transport.get_security_options()
    for kind, (attribute, _table) in _OPTION.items():
        kept = tuple(name for name in getattr(options, attribute) if name not in WEAK_NAMES)
        extra = tuple(
            name
            for name in allowed
            if kind_of(name) == kind and name not in kept and name not in missing
        )
        setattr(options, attribute, kept + extra)
    return missing


def refused_offer(
    offer: Mapping[str, Sequence[str]], allowed: Iterable[str]
) -> dict[str, list[str]]:
    """The weak algorithms a server's KEXINIT offers, by kind, for every kind in which it
    offers nothing stronger (nor anything ``allowed``): why the handshake was refused."""
    allowed_set = set(allowed)
    found: dict[str, list[str]] = {}
    for kind, lists in _OFFER_LISTS.items():
        offered: list[str] = []
        for key in lists:
            for name in offer.get(key, ()):
                if name.startswith(_SIGNALS):
                    continue  # not algorithms: ext-info-s, kex-strict-s-v00@openssh.com
                if name not in offered:
                    offered.append(name)
        acceptable = [n for n in offered if n not in WEAK[kind] or n in allowed_set]
        weak = [n for n in offered if n in WEAK[kind] and n not in allowed_set]
        if weak and not acceptable:
            found[kind] = weak
    return found
