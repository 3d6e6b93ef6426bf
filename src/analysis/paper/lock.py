"""The lock, ``requirements.txt``: every package of the environment at an exact version, with hashes.

``requirements.in`` lists the direct dependencies; ``make lock`` resolves it into ``requirements.txt`` (README.md,
"The lock"). This module reads both, compares the lock with an installed environment, and gives the lock's sha256
(the reviewer index records it). Names are compared in their PEP 503 normal form (``ruamel.yaml.clib`` and
``ruamel-yaml-clib`` are one package).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

# A requirement line: ``name==version``, then hash options, a line continuation or an environment marker.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)")

# Installed but not locked: the project itself (`make setup` installs it with `--no-deps -e .`).
PROJECT = "connected-health"


def normalise(name: str) -> str:
    """The PEP 503 normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` line of a requirements file.

    Comments, ``--hash`` continuation lines and blank lines are skipped; a name pinned twice is an error.
    """
    pins: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        match = _PIN.match(line.split("#", 1)[0].strip())
        if not match:
            continue
        name = normalise(match.group(1))
        if name in pins:
            raise ValueError(f"{path}:{number}: {match.group(1)} is pinned twice")
        pins[name] = match.group(2)
    return pins


def read_direct(path: Path) -> dict[str, str]:
    """``{normalised name: specifier}`` of every requirement of ``requirements.in`` (``==`` pins or not)."""
    out: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(.*)$", line)
        if match:
            out[normalise(match.group(1))] = match.group(2).split(";", 1)[0].strip()
    return out


def unhashed(path: Path) -> list[str]:
    """Pinned packages of a lock that carry no ``--hash`` (``pip install --require-hashes`` would refuse them)."""
    missing, current, hashed = [], None, True
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            if current and not hashed:
                missing.append(current)
            current, hashed = normalise(match.group(1)), False
        elif current and line.strip().startswith("--hash=sha256:"):
            hashed = True
    if current and not hashed:
        missing.append(current)
    return missing


def installed(distributions: Iterable[metadata.Distribution] | None = None) -> dict[str, list[str]]:
    """``{normalised name: [versions]}`` of the distributions the running interpreter sees (a name seen twice,
    as with a leftover ``.dist-info``, keeps both versions)."""
    out: dict[str, list[str]] = {}
    for dist in metadata.distributions() if distributions is None else distributions:
        name = dist.metadata["Name"]
        if name:
            out.setdefault(normalise(name), []).append(dist.version)
    return out


def differences(lock: dict[str, str], present: dict[str, list[str]], allowed_extra: Iterable[str] = (PROJECT,)
                ) -> dict[str, list[str]]:
    """What separates an environment from the lock: locked packages ``missing``, ``extra`` packages the lock does
    not name (other than ``allowed_extra``), packages at ``another version``, and ``duplicate`` installs."""
    allowed = {normalise(n) for n in allowed_extra}
    return {
        "missing": sorted(f"{n}=={v}" for n, v in lock.items() if n not in present),
        "extra": sorted(f"{n}=={','.join(vs)}" for n, vs in present.items() if n not in lock and n not in allowed),
        "another version": sorted(f"{n}: locked {lock[n]}, installed {','.join(vs)}" for n, vs in present.items()
                                  if n in lock and len(vs) == 1 and vs[0] != lock[n]),
        "duplicate": sorted(f"{n}: installed {','.join(vs)}" for n, vs in present.items() if len(vs) > 1),
    }


def sha256(path: Path) -> str:
    """The sha256 of a file (the lock's, for the provenance records)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
