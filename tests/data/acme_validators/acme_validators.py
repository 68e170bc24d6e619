"""A third-party validator plug-in, as a site would write one (used by storecore's tests).

It reads Image Comments (0020,4000) and says what the test asks for:
``acme:error``, ``acme:warning``, ``acme:coerced``, ``acme:removed``, ``acme:raise``.
"""

from __future__ import annotations

from collections.abc import Iterator

from storecore.validators import Action, Context, Finding, InstanceView, Severity

IMAGE_COMMENTS = 0x00204000


def ct_rules(view: InstanceView, context: Context) -> Iterator[Finding]:
    """Entry point for CT Image Storage (1.2.840.10008.5.1.4.1.1.2)."""
    said = view.text(IMAGE_COMMENTS) or ""
    if said == "acme:error":
        yield Finding(Severity.ERROR, "acme says no", IMAGE_COMMENTS, "acme", "site rule 1")
    elif said == "acme:warning":
        yield Finding(Severity.WARNING, "acme has doubts", IMAGE_COMMENTS, "acme", "site rule 2")
    elif said == "acme:coerced":
        yield Finding(
            Severity.INFO, "Patient ID normalised", 0x00100020, "acme", "site rule 3",
            Action.COERCED,
        )  # fmt: skip
    elif said == "acme:removed":
        yield Finding(
            Severity.INFO, "private tags removed", IMAGE_COMMENTS, "acme", "site rule 4",
            Action.REMOVED,
        )  # fmt: skip
    elif said == "acme:raise":
        raise RuntimeError("acme bug")


ct_rules.name = "acme:ct"  # type: ignore[attr-defined]


class SiteRules:
    """Entry point for every SOP Class (``*``): a class, instantiated on load."""

    name = "acme:site"

    def is_available(self) -> bool:
        return True

    def __call__(self, view: InstanceView, context: Context) -> list[Finding]:
        return [Finding(Severity.INFO, f"seen from {context.calling_ae_title or 'a file'}")]
