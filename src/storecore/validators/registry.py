"""The validator registry: keyed by SOP Class UID, entry points loaded lazily, explicit precedence.

Three tiers, in this order of precedence:

1. **user**: :meth:`Registry.register` in code;
2. **entry point**: the ``storecore.validators`` entry point group of the
   installed distributions, each entry named by the SOP Class UID it checks
   (or ``*`` for every one), e.g. in a plug-in's ``pyproject.toml``::

       [project.entry-points."storecore.validators"]
       "1.2.840.10008.5.1.4.1.1.2" = "acme_checks:ct_dose_fields"
       "*" = "acme_checks:site_rules"

   Discovered at first use and imported only when an instance of a matching
   SOP Class arrives;
3. **built-in**: ``builtin:common`` (``*``) and ``builtin:iod``.

Every validator that applies runs, the higher tiers first (so their findings
come first, and the first failure answered is theirs); within a tier, those
registered for the SOP Class before those for ``*``. A validator may
``replaces = ("label", ...)``: the named validators of lower tiers are then not
run for that SOP Class. A validator that raises, or cannot be loaded (the
finding names the missing dependency), becomes a finding with its label and
the configured status (:class:`ValidationConfig.failure_status`): never an
aborted association, never a lost instance.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from storecore.dataset.part10 import read_file_meta
from storecore.errors import StorecoreError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.storage.policy import Finding as StatusFinding
from storecore.storage.policy import IngestedInstance
from storecore.validators import builtin
from storecore.validators._protocol import Context, Finding, Severity, SOPClassValidator
from storecore.validators._view import InstanceView, open_view
from storecore.validators.policy import ValidationConfig

__all__ = [
    "ENTRY_POINT_GROUP",
    "IngestValidator",
    "Registration",
    "Registry",
    "Tier",
    "ValidatorUnavailable",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "storecore.validators"
ANY = "*"


class Tier(enum.IntEnum):
    """Where a validator comes from; lower runs first and wins."""

    USER = 0
    ENTRY_POINT = 1
    BUILTIN = 2


class ValidatorUnavailable(StorecoreError):
    """A validator cannot run (its plug-in failed to import, or says it is unavailable)."""


@dataclass(eq=False)
class Registration:
    """One validator for one SOP Class UID (or ``*``), loaded on first use."""

    sop_class_uid: str
    label: str
    tier: Tier
    target: SOPClassValidator | None = None
    entry_point: EntryPoint | None = None
    replaces: tuple[str, ...] = ()
    _error: str | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load(self) -> SOPClassValidator:
        """The validator; imports its entry point the first time.

        Raises
        ------
        ValidatorUnavailable
            The import failed (the message names the missing module) or the
            validator's ``is_available()`` said no.
        """
        target = self.target
        if target is None or self._error is not None:
            target = self._import()
        probe = getattr(target, "is_available", None)
        if probe is not None:
            try:
                ok = probe()
            except Exception as exc:
                raise ValidatorUnavailable(f"{self.label} is unavailable: {exc}") from None
            if not ok:
                raise ValidatorUnavailable(f"{self.label} is unavailable")
        return target

    def _import(self) -> SOPClassValidator:
        # the first load; after it (a target set, no error) load() takes no lock
        with self._lock:
            if self._error is not None:
                raise ValidatorUnavailable(self._error)
            if self.target is None:
                assert self.entry_point is not None
                try:
                    obj = self.entry_point.load()
                    if isinstance(obj, type):
                        obj = obj()
                except ImportError as exc:
                    missing = f" (missing {exc.name})" if exc.name else ""
                    self._error = f"cannot import {self.entry_point.value}{missing}: {exc}"
                    raise ValidatorUnavailable(self._error) from None
                except Exception as exc:
                    self._error = f"cannot load {self.entry_point.value}: {exc!r}"
                    raise ValidatorUnavailable(self._error) from None
                if not callable(obj):
                    self._error = f"{self.entry_point.value} is not callable"
                    raise ValidatorUnavailable(self._error)
                self.replaces = tuple(getattr(obj, "replaces", ()) or ())
                self.label = str(getattr(obj, "name", "") or self.label)
                self.target = obj  # last: load() takes a set target as loaded
            return self.target

    def is_available(self) -> bool:
        """True if the validator can run (loads it)."""
        try:
            self.load()
        except ValidatorUnavailable:
            return False
        return True

    def why_unavailable(self) -> str | None:
        try:
            self.load()
        except ValidatorUnavailable as exc:
            return str(exc)
        return None


def _label_of(obj: object) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    module = getattr(obj, "__module__", "") or ""
    qual = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}:{qual}" if module else str(qual)


class Registry:
    """SOP Class validators, from code, entry points and the built-ins.

    Parameters
    ----------
    entry_points : bool
        Discover the ``storecore.validators`` entry point group (at first use).
    builtins : bool
        Include ``builtin:common`` and ``builtin:iod``.

    References
    ----------
    PS3.4 Annex B.2.3 (the statuses findings become); PS3.3 Annex A (the IODs).
    """

    def __init__(self, *, entry_points: bool = True, builtins: bool = True) -> None:
        self._user: list[Registration] = []
        self._entry_points: list[Registration] | None = None if entry_points else []
        self._builtins: list[Registration] = []
        if builtins:
            self._builtins = [
                Registration(ANY, "builtin:common", Tier.BUILTIN, builtin.common),
                Registration(ANY, "builtin:iod", Tier.BUILTIN, builtin.iod),
            ]
        self._lock = threading.Lock()
        self._cache: dict[str, list[Registration]] = {}

    # ------------------------------------------------------------ registration

    def register(
        self,
        sop_class_uid: str,
        validator: SOPClassValidator,
        *,
        name: str | None = None,
        replaces: Sequence[str] = (),
    ) -> Registration:
        """Register a validator in code (the highest precedence) for a UID or ``*``."""
        if not callable(validator):
            raise TypeError(f"{validator!r} is not callable")
        reg = Registration(
            sop_class_uid,
            name or _label_of(validator),
            Tier.USER,
            validator,
            replaces=tuple(replaces) or tuple(getattr(validator, "replaces", ()) or ()),
        )
        with self._lock:
            self._user.append(reg)
            self._cache.clear()
        return reg

    def unregister(self, label: str) -> None:
        with self._lock:
            self._user = [r for r in self._user if r.label != label]
            self._cache.clear()

    def refresh(self) -> None:
        """Forget the discovered entry points (after installing a plug-in)."""
        with self._lock:
            self._entry_points = None
            self._cache.clear()

    def _discovered(self) -> list[Registration]:
        if self._entry_points is None:
            found = []
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep.dist, "name", None)
                label = f"{dist}:{ep.value}" if dist else ep.value
                found.append(Registration(ep.name.strip(), label, Tier.ENTRY_POINT, None, ep))
            found.sort(key=lambda r: (r.label, r.sop_class_uid))
            log.debug("validator entry points: %s", [r.label for r in found])
            self._entry_points = found
        return self._entry_points

    def registrations(self) -> list[Registration]:
        """Every registration, in precedence order (nothing is imported)."""
        with self._lock:
            return [*self._user, *self._discovered(), *self._builtins]

    def validators_for(self, sop_class_uid: str) -> list[Registration]:
        """The registrations that apply to `sop_class_uid`, in the order they run.

        Loads the matching entry points (once). A registration replaced by a
        higher-tier one that names its label is left out; unavailable ones
        are kept (running them yields their failure finding).
        """
        cached = self._cache.get(sop_class_uid)  # a dict read is atomic: no lock
        if cached is not None:
            return cached
        with self._lock:
            candidates = [
                r
                for r in (*self._user, *self._discovered(), *self._builtins)
                if r.sop_class_uid in (sop_class_uid, ANY)
            ]
        # within a tier, the validators of this SOP Class before those for every one
        candidates.sort(key=lambda r: (r.tier, r.sop_class_uid == ANY))
        for r in candidates:
            r.is_available()  # loads: `label` and `replaces` may come from the object
        # a lower tier is overridden by a higher one that has its label or
        # names it in `replaces`
        chosen = [
            r
            for r in candidates
            if not any(
                o.tier < r.tier and (o.label == r.label or r.label in o.replaces)
                for o in candidates
            )
        ]
        with self._lock:
            self._cache[sop_class_uid] = chosen
        return chosen

    # ------------------------------------------------------------ running

    def check(self, view: InstanceView, context: Context) -> list[Finding]:
        """Run every applicable validator; a failing one becomes a finding."""
        out: list[Finding] = []
        for reg in self.validators_for(context.sop_class_uid):
            if reg.label in context.config.disabled:
                continue
            try:
                found = list(reg.load()(view, context))
            except ValidatorUnavailable as exc:
                out.append(_failure(reg.label, str(exc)))
                continue
            except Exception as exc:
                log.exception("validator %s failed on %s", reg.label, context.sop_instance_uid)
                out.append(_failure(reg.label, f"raised {type(exc).__name__}: {exc}"))
                continue
            for f in found:
                if not isinstance(f, Finding):
                    out.append(_failure(reg.label, f"returned {type(f).__name__}, not a Finding"))
                    break
                out.append(f if f.validator else _relabel(f, reg.label))
        return out

    def check_file(
        self,
        path: str | os.PathLike[str],
        config: ValidationConfig | None = None,
        *,
        calling_ae_title: str = "",
        limits: Limits = DEFAULT_LIMITS,
    ) -> list[Finding]:
        """Validate a Part 10 file; the File Meta stands for the C-STORE command (PS3.10 7.1).

        Raises
        ------
        DatasetError
            The file cannot be parsed.
        """
        with open(path, "rb") as f:
            head = f.read(64 * 1024)
        meta = read_file_meta(head)
        ts = meta.transfer_syntax_uid or "1.2.840.10008.1.2"
        config = (config or ValidationConfig()).for_ae(calling_ae_title)
        with open_view(path, meta.dataset_offset, ts, limits=limits) as view:
            context = Context(
                sop_class_uid=meta.media_storage_sop_class_uid or view.text(0x00080016) or "",
                sop_instance_uid=meta.media_storage_sop_instance_uid or "",
                transfer_syntax=view.transfer_syntax,
                calling_ae_title=calling_ae_title,
                config=config,
            )
            return self.check(view, context)

    def validator(
        self,
        config: ValidationConfig | None = None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        lenient_odd_length: bool = False,
        observe: Callable[[Finding], object] | None = None,
    ) -> IngestValidator:
        """The callable to put in ``StoragePolicy(validators=...)``.

        Pass the policy's ``limits`` and ``lenient_odd_length`` so the
        validator reads what the ingest scanner accepted. `observe`, if given,
        sees every finding, answered or not (the server's metrics count them).
        """
        return IngestValidator(
            self, config or ValidationConfig(), limits, lenient_odd_length, observe
        )


def _failure(label: str, why: str) -> Finding:
    return Finding(
        Severity.ERROR, f"validator {label} failed: {why}", None, "", "", validator=label,
        failed=True,
    )  # fmt: skip


def _relabel(f: Finding, label: str) -> Finding:
    return Finding(
        f.severity, f.message, f.attribute, f.module, f.reference, f.action, label, f.failed
    )


class IngestValidator:
    """The ingest pipeline's validator: reads the spool file, runs the registry, maps statuses.

    Callable as :data:`storecore.storage.policy.Validator`: failures come first
    (the first refuses the instance), then warnings in precedence order.
    """

    __name__ = "storecore.validators"

    def __init__(
        self,
        registry: Registry,
        config: ValidationConfig,
        limits: Limits,
        lenient_odd_length: bool,
        observe: Callable[[Finding], object] | None = None,
    ) -> None:
        self.registry = registry
        self.config = config
        self.limits = limits
        self.lenient_odd_length = lenient_odd_length
        self.observe = observe
        self._configs: dict[str, ValidationConfig] = {}

    def _config_for(self, ae: str) -> ValidationConfig:
        config = self._configs.get(ae)
        if config is None:
            config = self._configs[ae] = self.config.for_ae(ae)
        return config

    def findings(
        self, instance: IngestedInstance, config: ValidationConfig | None = None
    ) -> list[Finding]:
        if config is None:
            config = self._config_for(instance.calling_ae_title)
        try:
            with open_view(
                instance.path,
                instance.dataset_offset,
                instance.transfer_syntax_uid,
                limits=self.limits,
                lenient_odd_length=self.lenient_odd_length,
                tokens=getattr(instance, "tokens", None),
                head=getattr(instance, "head", None),
            ) as view:
                context = Context(
                    sop_class_uid=instance.sop_class_uid,
                    sop_instance_uid=instance.sop_instance_uid,
                    transfer_syntax=view.transfer_syntax,
                    calling_ae_title=instance.calling_ae_title,
                    config=config,
                )
                return self.registry.check(view, context)
        except (StorecoreError, OSError) as exc:
            return [_failure("storecore.validators", f"cannot read the data set: {exc}")]

    def __call__(self, instance: IngestedInstance) -> list[StatusFinding]:
        config = self._config_for(instance.calling_ae_title)
        failures: list[StatusFinding] = []
        warnings: list[StatusFinding] = []
        for f in self.findings(instance, config):
            if self.observe is not None:
                self.observe(f)
            status = config.status(f)
            if status is None:
                continue
            out = StatusFinding(status, f.comment(), f.validator)
            (warnings if status >> 12 == 0xB else failures).append(out)
        return failures + warnings
