#!/usr/bin/env python
"""How much disk the base install of geofupin needs: its dependency closure, measured from installed packages.

The requirements come from ``pyproject.toml`` (``[project] dependencies``, plus the extras given
with ``--extra``); each is followed through the installed distributions' own requirements
(``importlib.metadata``), and the files each distribution's RECORD lists are summed. Nothing is
installed or downloaded. The whole environment is measured the same way for comparison.

Usage::

    python tools/env_size.py                 # one line: base install MB, whole environment MB
    python tools/env_size.py --extra static  # the base install plus the `static` extra
    python tools/env_size.py --top 15        # also the largest distributions
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the backport pytest and mypy install
    import tomli as tomllib  # type: ignore[no-redef]

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_size(dist: metadata.Distribution) -> int:
    """Bytes of the files the distribution's RECORD lists (0 when it has none)."""
    total = 0
    for f in dist.files or ():
        try:
            total += Path(str(dist.locate_file(f))).stat().st_size
        except OSError:
            continue
    return total


def installed() -> dict[str, metadata.Distribution]:
    out: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(canonical(name), dist)  # the first on sys.path wins, as for imports
    return out


def closure(requirements: list[str], dists: dict[str, metadata.Distribution]) -> tuple[set[str], set[str]]:
    """(installed distributions the requirements need, transitively; requirements not installed)."""
    need: set[str] = set()
    absent: set[str] = set()
    todo = [(Requirement(r), frozenset[str]()) for r in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, extras = todo.pop()
        env = [{"extra": e} for e in extras] or [{"extra": ""}]
        if req.marker is not None and not any(req.marker.evaluate(e) for e in env):
            continue
        name = canonical(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = dists.get(name)
        if dist is None:
            absent.add(name)
            continue
        need.add(name)
        todo += [(Requirement(r), frozenset(req.extras)) for r in dist.requires or ()]
    return need, absent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=[], help="add an extra of pyproject.toml (repeatable)")
    parser.add_argument("--top", type=int, default=0, help="list the N largest distributions of the install")
    args = parser.parse_args(argv)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in args.extra:
        for r in project["optional-dependencies"][extra]:
            if canonical(Requirement(r).name) == canonical(project["name"]):  # geofupin[a,b]: follow its extras
                reqs += [x for e in Requirement(r).extras for x in project["optional-dependencies"][e]]
            else:
                reqs.append(r)
    dists = installed()
    need, absent = closure(reqs, dists)
    sizes = {n: dist_size(dists[n]) for n in dists}
    mb = 1024 * 1024
    base = sum(sizes[n] for n in need)
    whole = sum(sizes.values())
    label = "base install" + "".join(f" + [{e}]" for e in args.extra)
    line = f"{label}: {base / mb:.0f} MB in {len(need)} distributions (whole environment: {whole / mb:.0f} MB)"
    if absent:
        line += f"; not installed, not counted: {', '.join(sorted(absent))}"
    print(line)
    for n in sorted(need, key=lambda n: -sizes[n])[: args.top]:
        print(f"  {n:<24} {sizes[n] / mb:8.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
