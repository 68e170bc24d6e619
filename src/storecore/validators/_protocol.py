"""What a validator is: its input (the scanned view, the context) and its output (findings)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from storecore.uid import TransferSyntax
    from storecore.validators._view import InstanceView
    from storecore.validators.policy import ValidationConfig

__all__ = ["Action", "Context", "Finding", "SOPClassValidator", "Severity", "tag_str"]


class Severity(enum.Enum):
    """How bad a finding is; the policy turns it into a C-STORE status."""

    #: the data set does not conform to its IOD: 0xA900 (strict) or 0xB007 (lenient)
    ERROR = "error"
    #: worth telling, the instance conforms: answered only if configured
    WARNING = "warning"
    #: never answered; shown by ``storecore validate -v``
    INFO = "info"


class Action(enum.Enum):
    """What the archive (or a validator acting for it) did to the instance."""

    #: a value was changed (e.g. a normalised Patient ID): 0xB000 (PS3.4 B.2.3)
    COERCED = "coerced"
    #: an element was removed by policy: 0xB006 (PS3.4 B.2.3)
    REMOVED = "removed"


def tag_str(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a validator has to say about an instance.

    Attributes
    ----------
    severity : Severity
    message : str
        What is wrong, in a few words (the first 64 characters may become the
        C-STORE Error Comment).
    attribute : int or None
        The tag concerned, when there is one.
    module : str
        The PS3.3 module (or the check) concerned, e.g. ``"general-series"``.
    reference : str
        The clause the finding rests on, e.g. ``"PS3.3 C.7.3.1"``.
    action : Action or None
        Set when the archive changed the instance rather than found a fault.
    validator : str
        The label of the validator that reported it (filled in by the registry).
    failed : bool
        The validator raised or could not be loaded: the finding stands for a
        verdict that is unknown (the policy's ``failure_status``).
    """

    severity: Severity
    message: str
    attribute: int | None = None
    module: str = ""
    reference: str = ""
    action: Action | None = None
    validator: str = ""
    failed: bool = False

    def comment(self) -> str:
        """A short text for the C-STORE Error Comment and the index row."""
        where = tag_str(self.attribute) + " " if self.attribute is not None else ""
        return f"{where}{self.message}"

    def __str__(self) -> str:
        parts = [self.severity.value]
        if self.action is not None:
            parts.append(f"[{self.action.value}]")
        if self.attribute is not None:
            parts.append(tag_str(self.attribute))
        text = " ".join(parts) + ": " + self.message
        where = ", ".join(p for p in (self.module, self.reference) if p)
        if where:
            text += f" ({where})"
        if self.validator:
            text += f" [{self.validator}]"
        return text


@dataclass(frozen=True, slots=True)
class Context:
    """What a validator knows beyond the data set.

    Attributes
    ----------
    sop_class_uid, sop_instance_uid : str
        From the C-STORE command (or, for a file, its File Meta: PS3.10 7.1).
    transfer_syntax : TransferSyntax
        The negotiated (or the file's) transfer syntax.
    calling_ae_title : str
        The sender; empty for a local file.
    config : ValidationConfig
        The policy in force for this sender.
    """

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: TransferSyntax
    calling_ae_title: str
    config: ValidationConfig


@runtime_checkable
class SOPClassValidator(Protocol):
    """A validator: findings for one instance (an empty iterable: nothing to say).

    It may also have a ``name`` (its label) and an ``is_available()`` method
    (False, or an exception naming the missing dependency, when it cannot run).
    It never changes the file; it must not keep ``view`` past the call (its
    buffer is unmapped afterwards).
    """

    def __call__(self, view: InstanceView, context: Context, /) -> Iterable[Finding]: ...
