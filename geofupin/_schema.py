"""Turn plain YAML data into frozen, typed configuration dataclasses.

Every section of a scenario is a frozen dataclass whose fields carry type annotations
(``float``, ``Literal[...]``, ``tuple[str, ...]``, ``dict[str, float]``, nested dataclasses,
``X | None``). :func:`parse` walks the raw mapping against those annotations and reports
*every* problem at once into a :class:`~geofupin.errors.Problems`: unknown keys (with a
"did you mean" suggestion), missing keys, wrong types, values outside a closed set.

Numbers must be finite: ``.nan``, ``.inf`` and ``-.inf`` are refused for every ``float``
(and whole numbers beyond the 64-bit range for every ``int``), unless the field says
``metadata={"nonfinite": True}``. ``metadata={"check": f}`` runs ``f(value, where, problems)``
on the parsed value of that one field, even when other fields of the section failed, so
field-level rules are reported together with every other problem.

Fields with ``metadata={"internal": True}`` are not YAML keys. A dataclass may define
``validate(self, where: str, problems: Problems) -> None`` for rules
that involve several fields (weights summing to one, a reciprocal matrix, ...); it is
called after the fields parsed cleanly.

Paths in problems use dotted keys with list indices, ``siting.criteria[2].name``, so the
scenario loader can attach YAML line numbers to them.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from .errors import Problems

T = TypeVar("T")

_MISSING = object()


def suggest(word: str, choices: Sequence[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def join(where: str, key: str | int) -> str:
    """Extend a dotted path by a key or a list index."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def line_for(where: str, lines: Mapping[str, int], *, prefix: str = "") -> int | None:
    """Line of the deepest known prefix of a dotted path (``prefix`` is dropped from ``where`` first)."""
    probe = where
    if prefix:
        if probe != prefix and not probe.startswith((f"{prefix}.", f"{prefix}[")):
            return None
        probe = probe[len(prefix) :].lstrip(".")
    while probe:
        if probe in lines:
            return lines[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        if cut <= 0:
            break
        probe = probe[:cut]
    return lines.get(probe)


def kind_of(raw: Any) -> str:
    """What a YAML document holds, in words (for "the scenario is ..., not a mapping")."""
    if raw is None:
        return "empty"
    if isinstance(raw, list):
        return "a list, not a mapping (key: value)"
    if isinstance(raw, str):
        return "a single text value, not a mapping (key: value)"
    return f"a single value ({type(raw).__name__}), not a mapping (key: value)"


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        return {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}.get(tp.__name__, tp.__name__)
    return str(tp).replace("typing.", "")


def parse(tp: Any, raw: Any, where: str, problems: Problems, *, base_dir: Path | None = None) -> Any:
    """Parse ``raw`` as type ``tp``; on failure add problems and return ``_MISSING``-free None.

    Parameters
    ----------
    tp
        A type annotation: a dataclass, builtin scalar, ``Literal``, ``Path``, ``tuple``,
        ``list``, ``dict`` or a union of these.
    raw
        Data from YAML.
    where
        Dotted path of ``raw`` in the scenario, for messages.
    problems
        Collector for every problem found.
    base_dir
        Directory against which relative ``Path`` values are resolved.

    Returns
    -------
    The parsed value, or ``None`` when it could not be parsed (a problem was added).
    """
    value = _parse(tp, raw, where, problems, base_dir)
    return None if value is _MISSING else value


#: Largest whole number accepted for an ``int`` field (the int64 range of numpy and GeoPackage).
INT_MAX = 2**63 - 1


def _parse(tp: Any, raw: Any, where: str, problems: Problems, base_dir: Path | None, nonfinite: bool = False) -> Any:
    if isinstance(tp, str):  # pragma: no cover - annotations are resolved by get_type_hints
        raise TypeError(f"unresolved annotation {tp!r} at {where}")
    origin = get_origin(tp)
    if tp is Any:
        return raw
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if raw is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:
            return _parse(others[0], raw, where, problems, base_dir, nonfinite)
        attempts = []
        for arg in others:
            scratch = Problems()
            value = _parse(arg, raw, where, scratch, base_dir, nonfinite)
            if value is not _MISSING and not scratch.errors:
                problems.extend(scratch)
                return value
            attempts.append((arg, scratch))
        for arg, scratch in attempts:  # report the detailed problems of the branch shaped like the data
            if _shape_matches(arg, raw):
                problems.extend(scratch)
                return _MISSING
        names = " or ".join(_type_name(a) for a in args)
        problems.add(where, f"expected {names}, got {raw!r}.", f"Give {names}.")
        return _MISSING
    if origin is Literal:
        allowed = get_args(tp)
        if raw in allowed and not (isinstance(raw, bool) and not any(isinstance(a, bool) for a in allowed)):
            return raw
        shown = ", ".join(repr(a) for a in allowed)
        problems.add(
            where,
            f"{raw!r} is not one of {shown}{suggest(str(raw), [str(a) for a in allowed])}.",
            f"Use one of {shown}.",
        )
        return _MISSING
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _parse_dataclass(tp, raw, where, problems, base_dir)
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
            problems.add(where, f"expected a list, got {raw!r}.", "Write a YAML list.")
            return _MISSING
        args = get_args(tp)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(raw) != len(args):
                problems.add(where, f"expected {len(args)} items, got {len(raw)}.", f"Give exactly {len(args)} items.")
                return _MISSING
            item_types = list(args)
        else:
            item_types = [args[0] if args else Any] * len(raw)
        out = []
        ok = True
        for i, (item_tp, item) in enumerate(zip(item_types, raw, strict=True)):
            value = _parse(item_tp, item, join(where, i), problems, base_dir, nonfinite)
            ok &= value is not _MISSING
            out.append(value)
        if not ok:
            return _MISSING
        return list(out) if origin is list or tp is list else tuple(out)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(raw, Mapping):
            problems.add(where, f"expected a mapping (key: value), got {raw!r}.", "Write a YAML mapping.")
            return _MISSING
        args = get_args(tp)
        key_tp, val_tp = args if args else (Any, Any)
        result: dict[Any, Any] = {}
        ok = True
        for k, v in raw.items():
            key = _parse(key_tp, k, join(where, str(k)), problems, base_dir)
            value = _parse(val_tp, v, join(where, str(k)), problems, base_dir, nonfinite)
            ok &= key is not _MISSING and value is not _MISSING
            result[key] = value
        return result if ok else _MISSING
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        problems.add(where, f"expected true or false, got {raw!r}.", "Write true or false.")
        return _MISSING
    if tp is int:
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            if abs(raw) <= INT_MAX:
                return raw
            problems.add(where, f"the whole number {_short(raw)} is too large.", f"Write a number below {INT_MAX:.1e}.")
            return _MISSING
        problems.add(where, f"expected a whole number, got {_short(raw)}.", "Write an integer.")
        return _MISSING
    if tp is float:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            try:
                value = float(raw)
            except OverflowError:
                value = math.inf if raw > 0 else -math.inf
            if math.isfinite(value) or nonfinite:
                return value
            problems.add(
                where,
                f"{_short(raw)} is not a finite number.",
                "Write a finite number (or leave the key out for the default; null where 'no limit' is allowed).",
            )
            return _MISSING
        problems.add(where, f"expected a number, got {_short(raw)}.", "Write a number.")
        return _MISSING
    if tp is str:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return str(raw)
        problems.add(where, f"expected text, got {raw!r}.", "Write a text value.")
        return _MISSING
    if tp is Path:
        if isinstance(raw, str) and raw and (any(ord(c) < 32 for c in raw) or len(raw.encode()) > 4096):
            problems.add(
                where,
                f"{_short(raw)} cannot be a file path (control characters, or over 4096 bytes).",
                "Write a path relative to the scenario file.",
            )
            return _MISSING
        if isinstance(raw, str) and raw and any(len(part.encode()) > 255 for part in Path(raw).parts):
            problems.add(
                where, f"{_short(raw)} has a file or folder name over 255 bytes.", "Write the real, shorter path."
            )
            return _MISSING
        if isinstance(raw, str) and raw:
            p = Path(raw).expanduser()
            if base_dir is not None and not p.is_absolute():
                p = base_dir / p
            return Path(os.path.normpath(p))
        problems.add(where, f"expected a file path, got {raw!r}.", "Write a path relative to the scenario file.")
        return _MISSING
    raise TypeError(f"geofupin._schema cannot parse type {tp!r} at {where}")  # pragma: no cover


def _short(raw: Any) -> str:
    """``repr`` of a value, cut to 60 characters (a number can be thousands of digits long)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) > 10**40:
        return f"a {len(str(abs(raw)))}-digit number"
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _shape_matches(tp: Any, raw: Any) -> bool:
    """True when ``raw`` has the container shape of ``tp`` (mapping vs list vs scalar)."""
    origin = get_origin(tp) or tp
    if isinstance(raw, Mapping):
        return (dataclasses.is_dataclass(tp) and isinstance(tp, type)) or origin in (dict, Mapping)
    if isinstance(raw, (list, tuple)):
        return origin in (list, tuple, Sequence)
    if isinstance(raw, str):
        return tp in (str, Path)
    return False


def _parse_dataclass(cls: type[T], raw: Any, where: str, problems: Problems, base_dir: Path | None) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.add(where or "scenario", f"expected a mapping (key: value), got {raw!r}.", "Write a YAML mapping.")
        return _MISSING
    hints = typing.get_type_hints(cls)
    fields = {
        f.name: f
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.init and not f.metadata.get("internal")
    }
    kwargs: dict[str, Any] = {}
    ok = True
    for key in raw:
        if key not in fields:
            problems.add(
                join(where, str(key)),
                f"unknown key '{key}'{suggest(str(key), list(fields))}.",
                f"Allowed keys here: {', '.join(sorted(fields))}.",
            )
            ok = False
    for name, f in fields.items():
        if name in raw:
            here = join(where, name)
            value = _parse(hints[name], raw[name], here, problems, base_dir, bool(f.metadata.get("nonfinite")))
            check = f.metadata.get("check")
            if value is not _MISSING and callable(check):
                before = len(problems.errors)
                check(value, here, problems)
                if len(problems.errors) > before:
                    value = _MISSING
            if value is _MISSING:
                ok = False
            else:
                kwargs[name] = value
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.add(
                join(where, name),
                f"required key '{name}' is missing.",
                f"Add '{name}:' under '{where or 'the top level'}'.",
            )
            ok = False
    if not ok:
        return _MISSING
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        before = len(problems.errors)
        validate(where, problems)
        if len(problems.errors) > before:
            return _MISSING
    return obj


def plain_data(obj: Any, *, text: Callable[[str], str] = lambda s: s) -> Any:
    """``obj`` (``dataclasses.asdict`` output) as YAML/JSON-ready data: paths and every string through ``text``."""
    if isinstance(obj, str):
        return text(obj)
    if isinstance(obj, dict):
        return {str(k): plain_data(v, text=text) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain_data(v, text=text) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


class RunFile:
    """Where a run file (a scenario or a region) sits and writes, and its resolved data for ``run.json``.

    For frozen dataclasses with ``name``, ``path`` (the file, or None) and ``outputs.dir``.
    """

    name: str
    path: Path | None
    outputs: Any

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are read from: the file's folder (the current folder without a file)."""
        return self.path.parent if self.path is not None else Path.cwd()

    def output_dir(self) -> Path:
        """The output folder: ``outputs.dir`` or ``maps/<name>`` next to the file's folder."""
        if self.outputs.dir is not None:
            return Path(self.outputs.dir)
        return self.base_dir.parent / "maps" / self.name

    def _redact(self, text: str) -> str:
        return text

    def resolved(self) -> dict[str, Any]:
        """The file's data as plain data (paths as text), for ``run.json``."""
        return plain_data(dataclasses.asdict(self), text=self._redact)  # type: ignore[call-overload,no-any-return]
