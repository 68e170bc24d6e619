"""The registry: entry point discovery, lazy loading, precedence, failures, status policy."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storecore.storage import Archive, StoragePolicy
from storecore.validators import (
    Action,
    Context,
    Finding,
    InstanceView,
    Mode,
    Registry,
    Severity,
    Tier,
    ValidationConfig,
)
from storecore.validators.cli import main as validate_main
from tests.unit.validators.helpers import DELETE, conformant_ct, write
from tests.unit.validators.plugin import installed_plugin

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Path]:
    with installed_plugin(tmp_path / "site") as site:
        yield site


def test_entry_points_are_discovered_lazily_and_ordered_by_precedence(plugin: Path) -> None:
    reg = Registry()
    labels = [(r.tier, r.sop_class_uid, r.label) for r in reg.registrations()]
    assert (Tier.ENTRY_POINT, CT, "acme-validators:acme_validators:ct_rules") in labels
    assert "acme_validators" not in sys.modules  # discovered, not imported
    assert [r.label for r in reg.validators_for("1.2.840.10008.5.1.4.1.1.7")] == [
        "acme:site", "builtin:common", "builtin:iod",
    ]  # fmt: skip
    assert "acme_validators" in sys.modules

    def mine(view: InstanceView, context: Context) -> list[Finding]:
        return []

    reg.register(CT, mine, name="site:mine")
    assert [r.label for r in reg.validators_for(CT)] == [
        "site:mine", "acme:ct", "acme:site", "builtin:common", "builtin:iod",
    ]  # fmt: skip
    # a user validator with a lower tier's label replaces it; `replaces` drops others
    reg.register(CT, mine, name="acme:ct", replaces=("builtin:iod",))
    assert [r.label for r in reg.validators_for(CT)] == [
        "site:mine", "acme:ct", "acme:site", "builtin:common",
    ]  # fmt: skip
    assert [r.tier for r in reg.validators_for(CT)][:2] == [Tier.USER, Tier.USER]


def test_a_missing_dependency_is_a_finding_naming_it(plugin: Path, tmp_path: Path) -> None:
    reg = Registry()
    missing = next(r for r in reg.registrations() if r.sop_class_uid == MR)
    assert not missing.is_available()
    assert "acme_missing_dependency" in (missing.why_unavailable() or "")
    ds = conformant_ct(SOPClassUID=MR, Modality="MR")
    ds.file_meta.MediaStorageSOPClassUID = MR
    got = [f for f in reg.check_file(write(tmp_path, ds)) if f.failed]
    assert len(got) == 1 and "missing acme_missing_dependency" in got[0].message
    assert ValidationConfig().status(got[0]) == 0xB007


def test_a_validator_that_raises_becomes_a_finding_with_its_label(
    plugin: Path, tmp_path: Path
) -> None:
    got = Registry().check_file(write(tmp_path, conformant_ct(ImageComments="acme:raise")))
    failed = [f for f in got if f.failed]
    assert [(f.validator, f.severity) for f in failed] == [("acme:ct", Severity.ERROR)]
    assert "RuntimeError: acme bug" in failed[0].message
    config = ValidationConfig(failure_status=0xA900)
    assert config.status(failed[0]) == 0xA900


def test_status_policy_and_per_ae() -> None:
    config = ValidationConfig.from_mapping(
        {"mode": "strict", "warning_status": "0xB007", "per_ae": {"OLD_CT": {"mode": "lenient"}}}
    )
    error = Finding(Severity.ERROR, "bad")
    assert config.status(error) == 0xA900
    assert config.for_ae("OLD_CT ").status(error) == 0xB007
    assert config.status(Finding(Severity.WARNING, "hm")) == 0xB007
    assert ValidationConfig().status(Finding(Severity.WARNING, "hm")) is None
    assert config.status(Finding(Severity.INFO, "i")) is None
    assert config.status(Finding(Severity.INFO, "c", action=Action.COERCED)) == 0xB000
    assert config.status(Finding(Severity.ERROR, "r", action=Action.REMOVED)) == 0xB006
    assert config.for_ae("OLD_CT").mode is Mode.LENIENT
    with pytest.raises(ValueError, match="unknown"):
        ValidationConfig.from_mapping({"moode": "strict"})
    with pytest.raises(ValueError):
        ValidationConfig.from_mapping({"per_ae": {"X": {"mode": "sloppy"}}})


@pytest.mark.parametrize(
    ("comment", "ae", "status"),
    [
        ("", "ANY", 0x0000),
        ("acme:error", "STRICT", 0xA900),
        ("acme:error", "OLD_CT", 0xB007),
        ("acme:warning", "STRICT", 0x0000),
        ("acme:warning", "PICKY", 0xB007),
        ("acme:coerced", "STRICT", 0xB000),
        ("acme:removed", "STRICT", 0xB006),
        ("acme:raise", "STRICT", 0xB007),
    ],
)
def test_archive_store_file_answers_the_configured_status(
    plugin: Path, tmp_path: Path, comment: str, ae: str, status: int
) -> None:
    config = ValidationConfig(
        per_ae={"OLD_CT": {"mode": "lenient"}, "PICKY": {"warning_status": 0xB007}}
    )
    check = Registry().validator(config)
    src = write(
        tmp_path / "in", conformant_ct(ImageComments=comment) if comment else conformant_ct()
    )
    policy = StoragePolicy(min_free_bytes=0, validators=(check,))
    with Archive(tmp_path / "archive", policy=policy) as archive:
        result = archive.store_file(src, calling_ae_title=ae)
        assert result.status == status, result.comment
        rows = list(archive.instances())
        assert len(rows) == (0 if status == 0xA900 else 1)
        if status >> 12 == 0xB:
            assert rows[0].findings[0]["status"] == status
            assert rows[0].findings[0]["validator"] in ("acme:ct",)


def test_builtin_error_refuses_in_strict_mode(tmp_path: Path) -> None:
    check = Registry(entry_points=False).validator()
    src = write(tmp_path / "in", conformant_ct(KVP=DELETE))
    with Archive(tmp_path / "a", policy=StoragePolicy(min_free_bytes=0, validators=(check,))) as a:
        result = a.store_file(src)
        assert (result.status, result.comment) == (0xA900, "(0018,0060) Type 2 KVP missing")


def test_validate_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, conformant_ct(), name="good.dcm")
    bad = write(tmp_path, conformant_ct(PatientID=DELETE), name="bad.dcm")
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    assert validate_main([str(good), "--no-plugins"]) == 0
    assert validate_main([str(good), str(bad), "--no-plugins"]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: error (0010,0020): Type 2 Patient ID missing" in out
    assert validate_main([str(bad), "--no-plugins", "--disable", "builtin:common"]) == 0
    assert validate_main([str(junk), str(good), "--no-plugins"]) == 2
    assert validate_main([str(tmp_path), "-r", "--glob", "bad*", "--json", "--no-plugins"]) == 1
    assert '"status": "0xA900"' in capsys.readouterr().out
