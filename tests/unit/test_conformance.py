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


def test_ingest_transcoding_is_described_from_the_configuration(tmp_path: Path) -> None:
    config_file = tmp_path / "storecore.toml"
    config_file.write_text(
        '[storage]\nstore_transfer_syntax = "JPEGLSLossless"\n'
        'store_transfer_syntax_by_modality = { US = "", XA = "JPEG2000" }\n'
        'allow_lossy = true\nuid_root = "1.2.3.4"\n'
        'on_transcode_failure = "store-as-received"\n'
    )
    text = conformance_statement(load_config(config_file))
    section = text.split("### Transcoding on ingest", 1)[1].split("## 4.", 1)[0]
    assert "| Modality US | as received |" in section
    assert "| Modality XA | JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91) |" in section
    assert "| all others | JPEG-LS Lossless Image Compression (1.2.840.10008.1.2.4.80) |" in section
    assert "Lossy output is allowed (JPEG 2000 Image Compression" in section
    assert "under the root `1.2.3.4`" in section and "0xB000 (Coercion of Data Elements" in section
    assert "map of sent to new SOP Instance UIDs" in section
    assert "stored as received and answered 0x0000" in section
    assert "committed under the UID the requester sent" in text

    lossless = tmp_path / "lossless.toml"
    lossless.write_text('[storage]\nstore_transfer_syntax = "RLELossless"\n')
    section = conformance_statement(load_config(lossless)).split("### Transcoding on ingest")[1]
    assert "| all | RLE Lossless (1.2.840.10008.1.2.5) |" in section
    assert "Lossy output is not allowed" in section
    assert "is refused with 0xC000 (Cannot understand)" in section

    default = conformance_statement(ServeConfig())
    assert "names no syntax to store in: every instance is stored in the syntax it was" in default
