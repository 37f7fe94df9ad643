"""Exceptions raised by geofupin.

Every exception derives from :class:`GeofupinError` and also from the builtin that
describes it best, so callers can catch either (``except ValueError`` still works).
Messages name the layer or scenario section, the feature id, the value and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, with where it is and how to fix it.

    Attributes
    ----------
    where
        The layer name (``villages``) or scenario path (``siting.weights.water``).
    message
        What is wrong, with the offending value.
    fix
        What the user should do.
    feature_id
        The id of the offending feature, when a single feature is at fault.
    severity
        ``error`` stops the run; ``warning`` is reported and the run goes on.
    line
        Line number in the scenario file, when known.
    """

    where: str
    message: str
    fix: str = ""
    feature_id: str | None = None
    severity: Severity = "error"
    line: int | None = None

    def __str__(self) -> str:
        loc = self.where
        if self.feature_id is not None:
            loc += f" [id {self.feature_id}]"
        if self.line is not None:
            loc += f" (line {self.line})"
        text = f"{self.severity}: {loc}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class Problems:
    """An ordered collection of :class:`Problem`, filled by validators."""

    def __init__(self, items: Iterable[Problem] = ()) -> None:
        self._items: list[Problem] = list(items)

    def add(
        self,
        where: str,
        message: str,
        fix: str = "",
        *,
        feature_id: object | None = None,
        severity: Severity = "error",
        line: int | None = None,
    ) -> None:
        fid = None if feature_id is None else str(feature_id)
        self._items.append(Problem(where, message, fix, fid, severity, line))

    def extend(self, other: Iterable[Problem]) -> None:
        self._items.extend(other)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self._items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self._items if p.severity == "warning"]


class GeofupinError(Exception):
    """Root of all geofupin errors."""


class ProblemsError(GeofupinError):
    """An error carrying every problem found, not only the first."""

    def __init__(self, title: str, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        lines = [f"{title}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ScenarioError(ProblemsError, ValueError):
    """The scenario file is invalid."""


class LayerError(ProblemsError, ValueError):
    """One or more input layers are invalid."""


class CRSError(GeofupinError, ValueError):
    """A layer has no CRS, or a geographic CRS where a metric one is needed."""


class DataError(GeofupinError, ValueError):
    """Input data cannot be used for a computation (names the layer, id and fix)."""


class InfeasibleError(GeofupinError, ValueError):
    """An optimisation problem has no solution under its rules (names the rule)."""


class SolverError(GeofupinError, RuntimeError):
    """A solver failed for a reason other than infeasibility."""


class OutputExistsError(GeofupinError, FileExistsError):
    """An output exists and ``--overwrite`` was not given."""


class MissingDependencyError(GeofupinError, ImportError):
    """An optional dependency (an extra such as ``geofupin[osm]``) is not installed; the message names the extra."""

    def __init__(self, message: str, *, module: str, extra: str) -> None:
        super().__init__(message, name=module)
        self.module = module
        self.extra = extra


class OutputError(GeofupinError, OSError):
    """An output cannot be written: its folder is not writable, the disk is full, a write failed.

    The previous output, if any, is left as it was.
    """


class UnsafeOutputError(DataError):
    """An output folder is refused because replacing or writing it could destroy data geofupin did not write.

    Raised whatever ``--overwrite`` says: for the filesystem root, the home folder, the current
    folder (and any folder above them), a folder holding an input, and a non-empty folder without
    geofupin's marker file (see :data:`geofupin.io.MARKER_FILE`).
    """
