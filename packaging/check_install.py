"""After `make setup`: every locked package is installed at its locked version, and torch is the CPU build."""

from __future__ import annotations

import re
import sys
from importlib import metadata

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def pins(path: str) -> dict[str, str]:
    """name -> version for each `name==version` line of a lock file."""
    found = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            m = PIN.match(line.strip())
            if m:
                found[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return found


def main(paths: list[str]) -> int:
    wrong = []
    for path in paths:
        for name, version in pins(path).items():
            try:
                have = metadata.version(name)
            except metadata.PackageNotFoundError:
                wrong.append(f"{name}=={version} from {path} is not installed")
                continue
            if have != version:
                wrong.append(f"{name}: {have} installed, {path} locks {version}")
    for name in ("torchvision", "timm"):  # they would pull a CUDA torch that breaks sentence-transformers
        try:
            wrong.append(f"{name} {metadata.version(name)} is installed; it must not be")
        except metadata.PackageNotFoundError:
            pass
    if "+cu" in metadata.version("torch"):
        wrong.append(f"torch {metadata.version('torch')} is a CUDA build; the lock names the CPU build")
    for line in wrong:
        print(f"check_install: {line}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
