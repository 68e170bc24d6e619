"""SOP Class validators: the protocol, the registry, the built-ins.

A validator is a callable ``(view, context) -> Iterable[Finding]`` reading the
scanner's view of a received instance (:class:`InstanceView`: tokens, top-level
values, raw bytes on demand; never pydicom objects) and the :class:`Context`
of its reception. The :class:`Registry` keys validators by SOP Class UID
(entry point group ``storecore.validators``, in-code registration, built-ins)
and gives the ingest pipeline one callable::

    from storecore.storage import Archive, StoragePolicy
    from storecore.validators import ValidationConfig, default_registry

    check = default_registry().validator(ValidationConfig(mode=Mode.LENIENT))
    archive = Archive(root, policy=StoragePolicy(validators=(check,)))

References
----------
PS3.4 Annex B.2.3 (statuses); PS3.3 Annex A (IODs), Annex C (modules).
"""

from __future__ import annotations

import threading

from storecore.validators._protocol import Action, Context, Finding, Severity, SOPClassValidator
from storecore.validators._view import InstanceView, open_view
from storecore.validators.builtin import COVERED_SOP_CLASSES
from storecore.validators.policy import Mode, ValidationConfig
from storecore.validators.registry import (
    ENTRY_POINT_GROUP,
    IngestValidator,
    Registration,
    Registry,
    Tier,
    ValidatorUnavailable,
)

__all__ = [
    "COVERED_SOP_CLASSES",
    "ENTRY_POINT_GROUP",
    "Action",
    "Context",
    "Finding",
    "IngestValidator",
    "InstanceView",
    "Mode",
    "Registration",
    "Registry",
    "SOPClassValidator",
    "Severity",
    "Tier",
    "ValidationConfig",
    "ValidatorUnavailable",
    "default_registry",
    "open_view",
    "register",
]

_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry (entry points and built-ins), made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def register(
    sop_class_uid: str, validator: SOPClassValidator, *, name: str | None = None
) -> Registration:
    """Register `validator` in the default registry for a SOP Class UID or ``*``."""
    return default_registry().register(sop_class_uid, validator, name=name)
