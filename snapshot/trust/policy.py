"""Decide whether a module may run: the caller's ``trust`` argument and the trust store.

``trust`` is ``False`` (the default: only modules the store knows),
``"sha256:<hex>"`` (exactly that module) or ``True`` (whatever the archive
holds, the caller's explicit choice). The decision is a hash, so whoever runs
the module afterwards (this process, or the verifying child) runs that module
and no other.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from snapshot.errors import SnapshotError, UntrustedArchiveError
from snapshot.trust.store import TrustStore

#: What ``trust=`` accepts, for type annotations.
Trust = bool | str

_PIN = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class TrustDecision:
    """The module hash allowed to run, and why."""

    sha256: str
    because: str


def parse_pin(text: str) -> str:
    """``"sha256:<64 hex digits>"`` → the lowercase digest; SnapshotError otherwise."""
    match = _PIN.match(text)
    if match is None:
        raise SnapshotError(
            f"trust must be True, False or 'sha256:<64 hex digits>', not {text!r}"
        )
    return match.group(1).lower()


def check_trust_argument(trust: object) -> None:
    """Raise SnapshotError unless ``trust`` is a valid ``trust=`` value."""
    if isinstance(trust, str):
        parse_pin(trust)
    elif not isinstance(trust, bool):
        raise SnapshotError(
            f"trust must be True, False or 'sha256:<64 hex digits>', not {trust!r}"
        )


def decide(
    trust: Trust, *, sha256: str, module: str, where: str, store: TrustStore
) -> TrustDecision:
    """The decision for the module ``module`` of the archive ``where``, whose hash is ``sha256``.

    Raises UntrustedArchiveError, saying how to review and trust the module,
    unless ``trust`` or ``store`` allows it.
    """
    check_trust_argument(trust)
    if trust is True:
        return TrustDecision(sha256, "trusted by the caller (trust=True)")
    if isinstance(trust, str):
        pinned = parse_pin(trust)
        if pinned != sha256:
            raise UntrustedArchiveError(
                f"{where}: refusing to run {module}: its sha256 is {sha256}, "
                f"not the pinned {pinned}"
            )
        return TrustDecision(sha256, "pinned by the caller")
    record = store.lookup(sha256)
    if record is None:
        quoted = shlex.quote(where)
        raise UntrustedArchiveError(
            f"{where}: refusing to run {module} (sha256:{sha256}): it was neither "
            f"saved nor trusted on this machine; read it with 'snapshot review {quoted}', "
            f"then run 'snapshot trust {quoted}' or pass trust=\"sha256:{sha256}\""
        )
    return TrustDecision(sha256, record.describe())
