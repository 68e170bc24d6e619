"""How findings become C-STORE statuses, per configuration and per calling AE.

=============================== ======================= =========================
finding                         strict (the default)    lenient
=============================== ======================= =========================
error                           0xA900 refused          0xB007 stored, warned
warning                         ``warning_status``      ``warning_status``
                                (default: not answered)
info                            never answered          never answered
action ``coerced``              0xB000                  0xB000
action ``removed``              0xB006                  0xB006
a validator raised / not loaded ``failure_status``      ``failure_status``
                                (default 0xB007)        (default 0xB007)
=============================== ======================= =========================

The statuses are those of PS3.4 B.2.3 (Storage Service Class statuses): 0xA900
"Data Set does not match SOP Class", 0xB007 "Data Set does not match SOP Class
(stored anyway)", 0xB000 "Coercion of Data Elements", 0xB006 "Elements
Discarded". Some senders treat any warning as a failure: ``per_ae`` gives
them a stricter or quieter configuration.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from storecore.validators._protocol import Action, Finding, Severity

__all__ = [
    "COERCION_OF_DATA_ELEMENTS",
    "DATA_SET_DOES_NOT_MATCH_SOP_CLASS",
    "DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING",
    "ELEMENTS_DISCARDED",
    "Mode",
    "ValidationConfig",
]

#: PS3.4 Table B.2-1
DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING = 0xB007
COERCION_OF_DATA_ELEMENTS = 0xB000
ELEMENTS_DISCARDED = 0xB006


class Mode(enum.Enum):
    #: an error refuses the instance (0xA900)
    STRICT = "strict"
    #: an error stores the instance with a warning (0xB007)
    LENIENT = "lenient"


def _status(value: Any, what: str) -> int | None:
    if value is None:
        return None
    status = int(value, 0) if isinstance(value, str) else int(value)
    if not 0 <= status <= 0xFFFF:
        raise ValueError(f"{what}: {value!r} is not a DIMSE status")
    return status


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """The validation policy for one sender.

    Attributes
    ----------
    mode : Mode
        What an error does (see the module's table). Default strict.
    warning_status : int or None
        The status a warning is answered with (e.g. 0xB007); None (default):
        warnings are not answered.
    failure_status : int
        The status of a validator that raised or could not be loaded. Default
        0xB007: the instance is stored and the failure recorded, never lost.
    disabled : frozenset of str
        Labels of validators not to run (e.g. ``"builtin:iod"``).
    per_ae : mapping of str to mapping
        Calling AE title -> the fields that differ for that sender, e.g.
        ``{"OLD_CT": {"mode": "lenient"}}``.

    References
    ----------
    PS3.4 Annex B.2.3, Table B.2-1.
    """

    mode: Mode = Mode.STRICT
    warning_status: int | None = None
    failure_status: int = DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING
    disabled: frozenset[str] = frozenset()
    per_ae: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> ValidationConfig:
        """Read a ``[validation]`` table (TOML), e.g. ``{"mode": "lenient"}``."""
        known = {"mode", "warning_status", "failure_status", "disabled", "per_ae"}
        extra = set(table) - known
        if extra:
            raise ValueError(f"unknown validation settings: {', '.join(sorted(extra))}")
        per_ae = {str(ae): dict(v) for ae, v in dict(table.get("per_ae", {})).items()}
        config = cls(per_ae=per_ae)._with(table)
        for ae in per_ae:
            config.for_ae(ae)  # fail now on a bad override
        return config

    def _with(self, changes: Mapping[str, Any]) -> ValidationConfig:
        fields: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "mode":
                fields[key] = Mode(value)
            elif key in ("warning_status", "failure_status"):
                fields[key] = _status(value, key)
            elif key == "disabled":
                fields[key] = frozenset(str(v) for v in value)
            elif key == "per_ae":
                continue
            else:
                raise ValueError(f"unknown validation setting {key!r}")
        return dataclasses.replace(self, **fields)

    def for_ae(self, calling_ae_title: str) -> ValidationConfig:
        """The configuration for one sender (AE titles compare without padding)."""
        override = self.per_ae.get(calling_ae_title.strip())
        return self if override is None else self._with(override)

    def status(self, finding: Finding) -> int | None:
        """The C-STORE status `finding` is answered with; None: not answered."""
        if finding.failed:
            return self.failure_status
        if finding.action is Action.COERCED:
            return COERCION_OF_DATA_ELEMENTS
        if finding.action is Action.REMOVED:
            return ELEMENTS_DISCARDED
        if finding.severity is Severity.ERROR:
            if self.mode is Mode.STRICT:
                return DATA_SET_DOES_NOT_MATCH_SOP_CLASS
            return DATA_SET_DOES_NOT_MATCH_SOP_CLASS_WARNING
        if finding.severity is Severity.WARNING:
            return self.warning_status
        return None
