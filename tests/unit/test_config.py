"""The configuration file: the declarative schema, its generated reference, the parser.

storecore.config.SETTINGS is the one list of keys; the parser checks files
against it and tools/gen_config_reference.py renders docs/configuration.md
from it. These tests notice a stale reference, a key accepted but not
documented (or documented but refused), and a table whose own reader
(``[validation]``) drifted from the schema.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from storecore.config import SETTINGS, TABLES, ConfigError, Peer, ServeConfig, load_config
from storecore.limits import Limits
from storecore.net.channel import Timeouts
from storecore.validators import ValidationConfig

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "gen_config_reference.py"
REFERENCE = ROOT / "docs" / "configuration.md"


def _example_file() -> str:
    text = REFERENCE.read_text(encoding="utf-8")
    match = re.search(r"## A file with every key\n\n```toml\n(.*?)```", text, re.S)
    assert match, "the reference has no example file"
    return match.group(1)


def test_the_committed_reference_is_what_the_tool_generates() -> None:
    run = subprocess.run(
        [sys.executable, str(TOOL), "--check"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr  # says: run python3 tools/gen_config_reference.py


def test_the_reference_documents_exactly_the_keys_the_schema_has() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `([a-z_.]+\.[^`]+)`$", text, re.M))
    schema = {f"{s.table}.{'<AE title>' if s.key == '*' else s.key}" for s in SETTINGS}
    assert documented == schema
    assert set(re.findall(r"^## `\[+([a-z_.]+)\]+`$", text, re.M)) == set(TABLES)


def test_every_documented_key_is_accepted_and_changes_its_setting(tmp_path: Path) -> None:
    path = tmp_path / "storecore.toml"
    path.write_text(_example_file())
    config = load_config(path)
    default = ServeConfig()
    for s in SETTINGS:
        if s.field is not None:  # "limits.x": field x of the Limits value
            assert _field(config, s.field) != _field(default, s.field), s
    assert config.directory == (("WORKSTATION1", "10.0.0.5", 11113),)
    assert config.peers == (
        Peer("PACS", frozenset({"store", "echo", "commit", "destination"}), "10.0.0.9", 104),
    )
    # the rule names the peer: its address comes from [peers.ae.PACS]
    assert (config.forward[0].ae_title, config.forward[0].host) == ("PACS", "10.0.0.9")
    assert config.forward[0].port == 104
    assert [r.name for r in config.forward] == ["to-pacs"]
    assert config.forward[0].trigger == "on-study-stable"
    assert config.validation is not None and config.validation["mode"] == "lenient"
    # relative file names are relative to the config file
    assert config.tls_certificate == tmp_path / "server.pem"


def _field(config: ServeConfig, name: str) -> object:
    value: object = config
    for part in name.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("table", [t for t in TABLES if t != "peers.directory"])
def test_a_key_the_reference_lacks_is_refused(tmp_path: Path, table: str) -> None:
    path = tmp_path / "storecore.toml"
    if table == "forward":
        text = '[[forward]]\nname = "x"\ndestination = "A@h:1"\nnot_a_key = 1\n'
    elif table == "peers.ae":
        text = "[peers.ae.PACS]\nroles = ['store']\nnot_a_key = 1\n"
    else:
        text = f"[{table}]\nnot_a_key = 1\n"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"unknown key .*not_a_key") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_an_unknown_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "storecore.toml"
    path.write_text("[storag]\npath = 'x'\n")
    with pytest.raises(ConfigError, match=r"unknown table \[storag\]"):
        load_config(path)


def test_the_validation_keys_are_those_validation_config_reads() -> None:
    keys = {s.key for s in SETTINGS if s.table == "validation"}
    assert keys == {f.name for f in dataclasses.fields(ValidationConfig)}
    for s in SETTINGS:
        if s.table == "validation":
            ValidationConfig.from_mapping({s.key: s.example})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[server]\nport = 'eleven'\n", "server.port has the wrong type ('eleven'; integer)"),
        ("[server]\nport = true\n", "server.port has the wrong type"),
        ("[server]\nport = 70000\n", "port 70000 is out of range"),
        ("[storage]\ndurability = 'later'\n", "storage.durability = 'later': choose fsync or"),
        ("[storage]\nlayout = 'flat'\n", "storage.layout = 'flat': choose study or hashed"),
        ("[accept]\nsop_classes = [1]\n", "accept.sop_classes must be a list of strings"),
        ("[validation]\nmode = 'paranoid'\n", "validation.mode = 'paranoid'"),
        ("[validation.per_ae.X]\nmode = 1\n", "validation.per_ae.X: validation.mode"),
        ("[server.tls]\ncertificate = 'c.pem'\n", "needs both certificate and private_key"),
        ("[server.tls]\nrequire_client_certificate = true\n", "certificate and private_key"),
        (
            "[server.tls]\ncertificate = 'c'\nprivate_key = 'k'\n"
            "require_client_certificate = true\n",
            "require_client_certificate needs ca_certificates",
        ),
        ("[server.tls]\ncert = 'c'\n", "unknown key server.tls.cert"),
        ("[server]\ntls = 1\n", "server.tls must be a table"),
        ("[[forward]]\nname = 'x'\n", "forward #1: destination is required"),
        ("[[forward]]\nname = 'x'\ndestination = 'A@h:1'\ncommit = 'yes'\n", "commit has"),
        ("[metrics]\nport = -1\n", "metrics.port -1 is out of range"),
        ("[storage]\nstore_transfer_syntax = 'JPEG2000'\n", "lossy output was not allowed"),
        ("[storage]\nstore_transfer_syntax = 'MPEG2MPML'\n", "video syntaxes are not"),
        ("[storage]\nstore_transfer_syntax = 'JPEG-XYZ'\n", "'JPEG-XYZ' is unknown"),
        (
            "[storage]\nstore_transfer_syntax_by_modality = { MR = 'JPEGBaseline8Bit' }\n",
            "store_transfer_syntax_by_modality.MR JPEGBaseline8Bit: JPEG Baseline",
        ),
        ("[storage]\nstore_transfer_syntax_by_modality = { MR = 1 }\n", "(strings)"),
        ("[storage]\nuid_root = '1.02.3'\n", "storage.uid_root '1.02.3': a valid UID"),
        ("[storage]\non_transcode_failure = 'shrug'\n", "choose refuse or store-as-received"),
        ("[peers.ae.PACS]\nhost = 'h'\nport = 1\n", "peers.ae.PACS.roles is required"),
        (
            "[peers.ae.PACS]\nroles = ['store', 'query']\n",
            "peers.ae.PACS.roles = ['store', 'query']: choose store, echo, commit or destination",
        ),
        ("[peers.ae.PACS]\nroles = 'store'\n", "peers.ae.PACS.roles has the wrong type"),
        ("[peers.ae.PACS]\nroles = ['store']\nport = 104\n", "give both host and port"),
        (
            "[peers.ae.PACS]\nroles = ['store']\nhost = 'h'\nport = 0\n",
            "peers.ae.PACS.port 0 is out of range",
        ),
        ("[peers.ae.PACS]\nroles = ['destination']\n", "destination role needs host and port"),
        ("[peers.ae.PACS]\nrole = ['store']\n", "unknown key peers.ae.PACS.role"),
        ("[peers.ae.PACS]\n[peers.ae.PACS.x]\n", "unknown key peers.ae.PACS.x"),
        ("[peers]\nae = 1\n", "peers.ae must hold one table per peer"),
        ("[peers.ae]\nPACS = 1\n", "peers.ae.PACS must be a table"),
        ("[peers.ae.'A\\B']\nroles = ['store']\n", "the AE VR excludes backslash"),
        ("[peers.ae.'WAY_TOO_LONG_AE_TITLE']\nroles = ['echo']\n", "longer than 16"),
        (
            "[peers]\nallowed_calling_ae_titles = ['CT1']\n[peers.ae.CT1]\nroles = ['store']\n",
            "peers.allowed_calling_ae_titles lists 'CT1', which [peers.ae.CT1] declares",
        ),
        (
            "[peers.directory]\nWS = 'h:1'\n[peers.ae.WS]\nroles = ['commit']\n",
            "peers.directory.WS is also declared by [peers.ae.WS]",
        ),
        (
            "[[forward]]\nname = 'x'\ndestination = 'PACS'\n",
            "destination 'PACS': use AE@HOST:PORT, or the AE title of a [peers.ae.AE]",
        ),
        (
            "[peers.ae.PACS]\nroles = ['store']\nhost = 'h'\nport = 1\n"
            "[[forward]]\nname = 'x'\ndestination = 'PACS'\n",
            "[peers.ae.PACS] lacks the destination role",
        ),
        (
            "[[forward]]\nname = 'x'\ndestination = 'PACS@h:2'\n"
            "[peers.ae.PACS]\nroles = ['destination']\nhost = 'h'\nport = 1\n",
            "destination 'PACS@h:2' contradicts [peers.ae.PACS]",
        ),
        ("[limits]\nmax_element_length = -1\n", "limits.max_element_length must be within"),
        ("[limits]\nmax_sequence_depth = 0\n", "limits.max_sequence_depth must be within"),
        ("[limits]\nmax_captured_value = 8\n", "limits.max_captured_value must be within"),
        ("[limits]\nmax_inflated_length = 1\n", "limits.max_inflated_length must be at least"),
        ("[limits]\nmax_pdu_length = 'big'\n", "limits.max_pdu_length has the wrong type"),
        (
            "[limits]\nmax_pdu_length = 65536\n",
            "server.max_pdu_length 131072 exceeds limits.max_pdu_length 65536",
        ),
        ("[limits]\nacse_timeout = 0\n", "limits.acse_timeout must be a number of seconds > 0"),
        ("[limits]\ndimse_timeout = -1.5\n", "limits.dimse_timeout must be a number"),
        ("[limits]\nmax_associations = 0\n", "limits.max_associations must be >= 1"),
        ("[limits]\nnetwork_timeout = 0\n", "limits.network_timeout must be a number"),
        ("[limits]\nmax_assoc = 3\n", "unknown key limits.max_assoc"),
    ],
)
def test_a_bad_value_names_the_file_key_and_reason(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "storecore.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and words in str(info.value), str(info.value)


def test_the_metrics_table_alone_turns_the_endpoint_on(tmp_path: Path) -> None:
    path = tmp_path / "storecore.toml"
    path.write_text("[metrics]\n")
    assert load_config(path).metrics_port == 9464
    path.write_text("[server]\n")
    assert load_config(path).metrics_port is None


def test_the_ingest_transcoding_keys_make_the_storage_policy(tmp_path: Path) -> None:
    from storecore.storage import TranscodeFailure

    path = tmp_path / "storecore.toml"
    path.write_text(
        "[storage]\nstore_transfer_syntax = 'JPEG2000'\nallow_lossy = true\n"
        "store_transfer_syntax_by_modality = { CT = '1.2.840.10008.1.2.4.80', US = '' }\n"
        "on_transcode_failure = 'store-as-received'\nuid_root = '1.2.3.4'\n"
    )
    policy = load_config(path).policy()
    assert policy.store_transfer_syntax == "1.2.840.10008.1.2.4.91"
    assert policy.target_syntax("CT") == "1.2.840.10008.1.2.4.80"
    assert policy.target_syntax("US") is None
    assert policy.target_syntax("MR") == "1.2.840.10008.1.2.4.91"
    assert policy.allow_lossy and policy.uid_root == "1.2.3.4"
    assert policy.on_transcode_failure is TranscodeFailure.STORE_AS_RECEIVED
    assert ServeConfig().policy().on_transcode_failure is TranscodeFailure.REFUSE
    assert not ServeConfig().policy().allow_lossy


def test_peers_and_the_old_keys_make_the_callers_services_and_addresses(tmp_path: Path) -> None:
    path = tmp_path / "storecore.toml"
    path.write_text(
        "[peers]\nallowed_calling_ae_titles = ['OLD_CT']\n"
        "[peers.directory]\nWS1 = 'ws1:11113'\n"
        "[peers.ae.CT2]\nroles = ['store', 'echo']\n"
        "[peers.ae.' RIS ']\nroles = ['commit']\nhost = 'ris'\nport = 4000\n"
        "[peers.ae.NOREPORT]\nroles = ['echo', 'destination']\nhost = 'nr'\nport = 5\n"
        "[peers.ae.PACS]\nroles = ['destination']\nhost = 'pacs'\nport = 104\n"
    )
    config = load_config(path)
    # a destination-only peer restricts nothing by itself, but is no caller either
    assert config.calling_ae_titles() == frozenset({"OLD_CT", "CT2", "RIS", "NOREPORT"})
    assert config.peer_services() == {
        "CT2": {"store", "echo"},
        "RIS": {"commit"},
        "NOREPORT": {"echo"},
        "PACS": frozenset(),
    }
    # reports go to the directory's and the commit peers' addresses, not to others
    assert config.report_addresses() == {"WS1": ("ws1", 11113), "RIS": ("ris", 4000)}


def test_without_peers_anyone_may_associate_as_before(tmp_path: Path) -> None:
    path = tmp_path / "storecore.toml"
    path.write_text("[peers.ae.PACS]\nroles = ['destination']\nhost = 'pacs'\nport = 104\n")
    assert load_config(path).calling_ae_titles() is None
    assert ServeConfig().calling_ae_titles() is None
    path.write_text("[peers]\nallowed_calling_ae_titles = ['A']\n")
    assert load_config(path).calling_ae_titles() == frozenset({"A"})
    assert load_config(path).peer_services() == {}


def test_the_limits_table_makes_the_limits_value_and_the_storage_policy_uses_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "storecore.toml"
    path.write_text(
        "[server]\nmax_pdu_length = 16384\n"
        "[limits]\nmax_element_length = 4096\nmax_pdu_length = 16384\n"
        "acse_timeout = 5\nnetwork_timeout = 2.5\nmax_associations = 2\n"
    )
    config = load_config(path)
    assert config.timeouts() == Timeouts(acse=5, dimse=60.0, network=2.5)
    assert config.limits == Limits(max_element_length=4096, max_pdu_length=16384)
    assert config.policy().limits is config.limits
    assert (config.acse_timeout, config.dimse_timeout, config.max_associations) == (5, 60.0, 2)
    assert ServeConfig().policy().limits == Limits()


def test_the_conformance_statement_lists_the_peers_their_services_and_the_limits(
    tmp_path: Path,
) -> None:
    from storecore.conformance import conformance_statement

    path = tmp_path / "storecore.toml"
    path.write_text(
        "[peers.ae.CT2]\nroles = ['store', 'echo']\n"
        "[peers.ae.RIS]\nroles = ['commit']\nhost = 'ris'\nport = 4000\n"
        "[limits]\nmax_associations = 3\n"
    )
    text = conformance_statement(load_config(path))
    assert "| CT2 | yes | yes | no |  |" in text
    assert "| RIS | no | no | yes | ris:4000 (commit) |" in text
    assert "| RIS | ris:4000 |" in text  # where its reports go
    assert "At most 3 associations at once" in text
    assert "Any calling AE title may associate" in conformance_statement(ServeConfig())
