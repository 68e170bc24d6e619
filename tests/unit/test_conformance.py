"""The generated conformance statement agrees with the code it describes."""

from __future__ import annotations

from pathlib import Path

from storecore.config import ServeConfig, load_config
from storecore.conformance import conformance_statement, parse_table_n59
from storecore.scp import default_storage_transfer_syntaxes
from storecore.transcode.matrix import matrix
from storecore.transcode.records import TranscodePath

_CELL = {TranscodePath.SUPPORTED: "S", TranscodePath.NEW_UID: "N", TranscodePath.NOT_SUPPORTED: "-"}


def test_table_n59_is_the_matrix() -> None:
    document = conformance_statement()
    table = parse_table_n59(document)
    syntaxes = list(default_storage_transfer_syntaxes())
    expected = matrix(syntaxes, allow_lossy=True)
    assert len(table) == len(syntaxes) ** 2
    for (a, b), decision in expected.items():
        assert table[(a, b)] == _CELL[decision.path], (a, b, decision.reason)
    # the diagonal is always SUPPORTED, and native <-> native too
    native = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"]
    assert all(table[(a, b)] == "S" for a in native for b in native)
    # lossy output is NEW_UID, never SUPPORTED (JPEG baseline from Explicit VR LE)
    assert table[("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50")] in ("N", "-")


def test_statement_follows_the_configuration(tmp_path: Path) -> None:
    config_file = tmp_path / "storecore.toml"
    config_file.write_text(
        '[server]\nae_title = "ARCHIVE1"\n'
        '[accept]\nsop_classes = ["1.2.840.10008.5.1.4.1.1.2"]\n'
        'transfer_syntaxes = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]\n'
        '[storage]\nduplicates = "reject"\ndurability = "background"\nflush_interval = 2.5\n'
    )
    text = conformance_statement(load_config(config_file))
    assert "AE title `ARCHIVE1`" in text
    assert "| CT Image Storage | 1.2.840.10008.5.1.4.1.1.2 | yes | yes |" in text
    assert "MR Image Storage" not in text
    assert "refused with 0x0111 (Duplicate SOP Instance)" in text
    assert "within 2.5 s (background durability" in text
    assert parse_table_n59(text) == {
        (a, b): "S"
        for a in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
        for b in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
    }
    default = conformance_statement(ServeConfig())
    assert "on disk (fsync durability)" in default
    assert "the stored copy is kept and the new one discarded" in default
    for status in ("0x0000", "0xA700", "0xA900", "0xC000", "0xB000", "0xB006", "0xB007"):
        assert f"| {status} |" in default


def test_forwarding_rules_are_the_scus_triggers(tmp_path: Path) -> None:
    config_file = tmp_path / "storecore.toml"
    config_file.write_text(
        '[[forward]]\nname = "to-pacs"\ndestination = "PACS@10.0.0.9:104"\n'
        'match = { modality = ["CT"] }\ntransfer_syntaxes = ["JPEGLSLossless"]\n'
    )
    config_file.write_text(config_file.read_text() + '[peers.directory]\nWS1 = "10.0.0.5:11113"\n')
    text = conformance_statement(load_config(config_file))
    assert "| WS1 | 10.0.0.5:11113 |" in text
    assert (
        "| to-pacs | each instance, once stored | PACS@10.0.0.9:104 | modality in CT | "
        "1.2.840.10008.1.2.4.80 | no |"
    ) in text
    assert "forwarding rules" not in conformance_statement(ServeConfig())
