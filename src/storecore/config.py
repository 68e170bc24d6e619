"""The archive server's configuration: a TOML file, checked strictly.

``storecore serve --config storecore.toml`` reads it; command-line options
override it. Every key is optional; an unknown table or key, a value of the
wrong type or outside its allowed values is an error that names the file, the
key and the reason (a typo must not silently fall back to a default).

:data:`SETTINGS` declares every table and key (type, default, allowed values,
what it does, what it risks); the parser checks against it and
``tools/gen_config_reference.py`` renders it as ``docs/configuration.md``, so
the reference cannot drift from what is parsed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storecore.errors import StorecoreError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.storage.blobstore import Layout
from storecore.storage.policy import DuplicatePolicy, Durability, StoragePolicy, TranscodeFailure
from storecore.uid import is_valid_uid, transfer_syntax

if TYPE_CHECKING:
    from storecore.net.channel import Timeouts

__all__ = [
    "PEER_ROLES",
    "SETTINGS",
    "TABLES",
    "ConfigError",
    "Peer",
    "ServeConfig",
    "Setting",
    "load_config",
]


class ConfigError(StorecoreError):
    """The configuration file is wrong; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One key of the configuration file.

    Attributes
    ----------
    table : str
        The TOML table, dotted (``"server.tls"``); ``"forward"`` is the array
        of tables ``[[forward]]``.
    key : str
        The key; ``"*"``: any key (e.g. an AE title in ``[peers.directory]``).
    kind : str
        ``string``, ``integer``, ``number``, ``boolean``, ``list of strings``,
        ``table``, ``status`` (an integer, or a string like ``"0xB007"``).
    default : object
        The value when the key is absent (None: none, e.g. a required key).
    doc : str
        What it does (Markdown, one paragraph).
    field : str or None
        The :class:`ServeConfig` field it sets; None: its table's own reader
        takes it (``[[forward]]``, ``[validation]``, ``[peers.directory]``).
    choices : tuple of str
        The allowed values (empty: any of `kind`).
    risk : str
        What choosing a non-default value risks, where it matters.
    example : object
        A valid value, for the reference and the tests (None: the default).
    required : bool
        The key must be given (in ``[[forward]]`` every key without a default is).
    """

    table: str
    key: str
    kind: str
    default: Any
    doc: str
    field: str | None = None
    choices: tuple[str, ...] = ()
    risk: str = ""
    example: Any = None
    required: bool = False


#: a peer's roles -> what each lets it do (the reference renders this text)
PEER_ROLES: dict[str, str] = {
    "store": "it may open associations to us and send C-STORE requests (the Storage SOP "
    "Classes' presentation contexts, PS3.4 Annex B)",
    "echo": "it may open associations to us and send C-ECHO (Verification, PS3.7 9.1.5)",
    "commit": "it may open associations to us and request Storage Commitment (N-ACTION, "
    "PS3.4 Annex J); with `host` and `port`, a report that cannot go on its association "
    "is sent there on a new one (PS3.4 J.3.3)",
    "destination": "we may open associations to it: `[[forward]]` rules may name it as "
    '`destination = "AE"` (its `host` and `port` required)',
}
_INBOUND_ROLES = frozenset({"store", "echo", "commit"})


@dataclass(frozen=True, slots=True)
class Peer:
    """A known DICOM peer: ``[peers.ae.<AE title>]``.

    Attributes
    ----------
    ae_title : str
        Its AE title (PS3.5 6.2, AE VR; without non-significant spaces).
    roles : frozenset of str
        Keys of :data:`PEER_ROLES`.
    host, port : str, int or None
        Where it listens; None when we never open associations to it.
    """

    ae_title: str
    roles: frozenset[str]
    host: str | None = None
    port: int | None = None

    @property
    def services(self) -> frozenset[str]:
        """The roles that let it open associations to us (``store``, ``echo``, ``commit``)."""
        return self.roles & _INBOUND_ROLES


#: table -> what it is for (the reference's section text), in reference order
TABLES: dict[str, str] = {
    "server": "The DICOM listener: who we are and where we listen.",
    "server.tls": "TLS on the listener (PS3.15 B.1, the Basic TLS Secure Transport "
    "Connection Profile). Present with `certificate` and `private_key`: every "
    "association is TLS; a plain TCP peer cannot associate.",
    "peers": "Who may associate. Callers are restricted as soon as "
    "`allowed_calling_ae_titles` lists one or a `[peers.ae.<AE title>]` table gives one a "
    "role to associate (`store`, `echo` or `commit`): an unknown calling AE title is then "
    "rejected (A-ASSOCIATE-RJ rejected-permanent, source service-user, reason "
    "calling-AE-title-not-recognized; PS3.8 Table 9-21). Peers that are only forwarding "
    "destinations restrict nothing.",
    "peers.ae": "`[peers.ae.<AE title>]`, once per peer: its roles and address. A known "
    "caller's association is accepted, but each proposed presentation context of a service "
    "its roles lack is answered user-rejection (result 1, PS3.8 Table 9-18), so the peer "
    "finds no accepted context for it (dcmtk's storescu: \"No Acceptable Presentation "
    "Contexts\"); Verification "
    "needs `echo`, Storage Commitment Push Model `commit`, any other abstract syntax (the "
    "Storage SOP Classes) `store`. The roles: "
    + "; ".join(f"`{role}`: {text}" for role, text in PEER_ROLES.items())
    + ". An AE title cannot also be listed in `allowed_calling_ae_titles` or "
    "`[peers.directory]` (those keep their meaning for titles not declared here: all "
    "three inbound services; an address for reports).",
    "peers.directory": "Where the requesters of Storage Commitment listen, for reports "
    "sent on a new association (PS3.4 J.3.3), keyed by AE title.",
    "accept": "What the SCP accepts in association negotiation (PS3.4 B.5, PS3.5 Section 10).",
    "storage": "The archive folder and its policies (storecore.storage.policy).",
    "limits": "What one association or instance may cost (storecore.limits.Limits, and the "
    "server's timers and association cap). Each default follows a precedent named in its "
    "text; an input over a limit is refused before anything is allocated in proportion to it.",
    "metrics": "Present: Prometheus metrics on `http://host:port/metrics`.",
    "forward": "`[[forward]]`, once per rule: forwarding (storecore.forward). Each stored "
    "instance that matches is queued for the rule's destination in the transaction that "
    "indexes it.",
    "validation": "Present: the SOP Class validators run on every instance "
    "(storecore.validators.policy; PS3.4 B.2.3 statuses).",
}

_DURABILITY_RISK = (
    "`background` answers Success before the data is on disk: a power loss or OS crash "
    "loses what arrived since the last flush (up to `flush_interval` seconds) although the "
    "sender was told it was stored. A process crash loses nothing."
)

#: every key of every table, in reference order
SETTINGS: tuple[Setting, ...] = (
    Setting("server", "ae_title", "string", "STORECORE",
            "Our AE title; an association calling another is rejected (PS3.8 7.1.1.4).",
            "ae_title", example="ARCHIVE"),
    Setting("server", "host", "string", "0.0.0.0", "The address to listen on.", "host",
            example="127.0.0.1"),
    Setting("server", "port", "integer", 11112, "The TCP port to listen on (0..65535).",
            "port", example=104),
    Setting("server", "max_pdu_length", "integer", 131072,
            "The Maximum Length we advertise for received P-DATA PDUs (PS3.8 D.1).",
            "max_pdu_length", example=16384),
    Setting("server.tls", "certificate", "string", "",
            "PEM file of our certificate (chain); relative to the config file.",
            "tls_certificate", example="server.pem"),
    Setting("server.tls", "private_key", "string", "",
            "PEM file of the certificate's private key; relative to the config file.",
            "tls_private_key", example="server.key"),
    Setting("server.tls", "ca_certificates", "string", "",
            "PEM file of the CAs whose client certificates are trusted; relative to the "
            "config file. Empty: the system's.", "tls_ca_certificates", example="ca.pem"),
    Setting("server.tls", "require_client_certificate", "boolean", False,
            "Refuse a TLS connection whose client presents no certificate signed by "
            "`ca_certificates` (mutual TLS).", "tls_require_client_certificate",
            risk="`false`: any client that completes the handshake may associate; restrict "
            "callers with `peers.allowed_calling_ae_titles`.", example=True),
    Setting("peers", "allowed_calling_ae_titles", "list of strings", [],
            "Calling AE titles allowed to associate; empty: anyone may store.",
            "allowed_calling_ae_titles",
            risk="Empty accepts any caller that can reach the port.", example=["MODALITY1"]),
    Setting("peers.ae", "roles", "list of strings", None,
            "What the peer may do (see the table's text): any of `store`, `echo`, `commit` "
            "(associations it opens to us) and `destination` (associations we open to it).",
            choices=tuple(PEER_ROLES), required=True,
            risk="`store` lets the peer write into the archive.",
            example=["store", "echo", "commit", "destination"]),
    Setting("peers.ae", "host", "string", None,
            "Where the peer listens (with `port`): required with `destination`; with "
            "`commit`, where Storage Commitment reports go on a new association.",
            example="10.0.0.9"),
    Setting("peers.ae", "port", "integer", None,
            "The peer's TCP port (1..65535), with `host`.", example=104),
    Setting("peers.directory", "*", "string", None,
            "`AE_TITLE = \"HOST:PORT\"`: the address a Storage Commitment report for that "
            "requester is sent to when it was not on the request's association.",
            example="10.0.0.5:11113"),
    Setting("accept", "sop_classes", "list of strings", [],
            "Storage SOP Class UIDs accepted; empty: every Storage SOP Class (PS3.4 B.5).",
            "sop_classes", example=["1.2.840.10008.5.1.4.1.1.2"]),
    Setting("accept", "transfer_syntaxes", "list of strings", [],
            "Transfer Syntax UIDs accepted; empty: every native and encapsulated syntax.",
            "transfer_syntaxes", example=["1.2.840.10008.1.2.1"]),
    Setting("accept", "promiscuous", "boolean", False,
            "Also accept SOP classes storecore does not know (stored as received).",
            "promiscuous", risk="Unknown classes are stored without any check of their IOD.",
            example=True),
    Setting("storage", "path", "string", "archive",
            "The archive folder (objects/, index.sqlite, spool); relative to the config file.",
            "path", example="/var/lib/storecore"),
    Setting("storage", "layout", "string", "study",
            "How stored files are named under objects/.", "layout",
            choices=tuple(x.value for x in Layout), example="hashed"),
    Setting("storage", "duplicates", "string", "keep",
            "A C-STORE of a SOP Instance UID already stored with different content: "
            "`keep` the stored copy (0x0000), `overwrite` it (0x0000), `reject` it (0x0111 "
            "Duplicate SOP Instance), or keep both as `version`s (0x0000). Same content: "
            "0x0000, nothing changes.", "duplicates",
            choices=tuple(x.value for x in DuplicatePolicy),
            risk="`overwrite` loses the first copy; `keep` silently ignores a corrected resend.",
            example="version"),
    Setting("storage", "durability", "string", "fsync",
            "When Success is answered: `fsync`, once the file, its folder entry and the index "
            "row are on disk; `background`, once in the page cache (a flusher syncs every "
            "`flush_interval` seconds; Storage Commitment only commits synced instances).",
            "durability", choices=tuple(x.value for x in Durability), risk=_DURABILITY_RISK,
            example="background"),
    Setting("storage", "store_transfer_syntax", "string", "",
            "Store in this syntax (UID or keyword): any the transcoding matrix reaches with "
            "the codecs installed, native (`ExplicitVRLittleEndian`, `DeflatedExplicitVRLittle"
            "Endian`) or compressed (`JPEGLSLossless`, `JPEG2000Lossless`, `RLELossless`); "
            "empty: as received. Checked at start: a target no installed codec writes, or a "
            "lossy one without `allow_lossy`, stops it. Lossless targets keep the SOP "
            "Instance UID (PS3.2 Table N.5-9 SUPPORTED); instances without Pixel Data are "
            "stored as received.", "store_transfer_syntax",
            risk="Transcoding costs CPU on the receive path (the codecs run in each "
            "association's thread, in parallel); the sender's bytes are not kept.",
            example="ExplicitVRLittleEndian"),
    Setting("storage", "store_transfer_syntax_by_modality", "table", {},
            "Modality (0008,0060) -> the syntax that modality's instances are stored in, "
            "over `store_transfer_syntax` (`\"\"`: as received).",
            "store_transfer_syntax_by_modality", example={"CT": "JPEGLSLossless", "US": ""}),
    Setting("storage", "allow_lossy", "boolean", False,
            "Allow a lossy `store_transfer_syntax` (JPEG Baseline, JPEG 2000, JPEG-LS "
            "Near-Lossless). A lossy copy is a new instance (PS3.3 C.7.6.1.1.5): it is stored "
            "under a new SOP Instance UID with Lossy Image Compression `01`, its ratio and "
            "method, and a Source Image Sequence naming the original; the C-STORE is answered "
            "0xB000 (Coercion of Data Elements) with the new UID in the Error Comment; the "
            "index maps the sent UID to the new one, so look-ups and Storage Commitment of "
            "the sent UID find it.", "allow_lossy",
            risk="The original pixel values are lost for good: only the lossy copy is kept.",
            example=True),
    Setting("storage", "uid_root", "string", "",
            "Root of the new SOP Instance UIDs of lossy copies (at most 30 characters); "
            "empty: `2.25.` + a UUID (PS3.5 B.2).", "uid_root", example="1.2.3.4.5"),
    Setting("storage", "on_transcode_failure", "string", "refuse",
            "An instance the policy's transcode cannot be applied to (no decoder for the "
            "syntax it came in, pixel data the codec cannot read, an image the encoder "
            "refuses): `refuse` it, 0xC000 (Cannot understand) with the reason in the Error "
            "Comment, nothing stored; or `store-as-received`, 0x0000 with the index record "
            "saying NOT_SUPPORTED and why (no PS3.4 B.2.3 warning status fits: nothing was "
            "coerced, discarded or mismatched).", "on_transcode_failure",
            choices=tuple(x.value for x in TranscodeFailure),
            risk="`store-as-received` answers Success for an instance not in the syntax the "
            "policy names; only the index record and the log say so.",
            example="store-as-received"),
    Setting("storage", "flush_interval", "number", 1.0,
            "Seconds between the background flusher's syncs (> 0).", "flush_interval",
            risk="With `durability = \"background\"`, the data a power loss can lose.",
            example=0.5),
    Setting("storage", "min_free_bytes", "integer", 1 << 30,
            "Refuse a C-STORE (0xA700 Out of Resources) before reading it when free space "
            "would fall below this.", "min_free_bytes",
            risk="0 lets the disk fill up; the filesystem's own errors then answer 0xA700.",
            example=0),
    Setting("storage", "reservation_bytes", "integer", 64 << 20,
            "Space each instance in flight reserves against `min_free_bytes`, grown by this "
            "as its bytes arrive.", "reservation_bytes", example=1 << 20),
    Setting("limits", "max_element_length", "integer", 0xFFFFFFFE,
            "Largest defined value length of one data element (PS3.5 7.1.1) accepted in a "
            "command set or a received data set (0..0xFFFFFFFE). A C-STORE whose data set "
            "holds a longer one is refused, 0xC000 (Cannot understand) with the element in "
            "the Error Comment, nothing stored. Default 0xFFFFFFFE, the largest length PS3.5 "
            "can encode: data sets are streamed to disk, so a large element costs no memory.",
            "limits.max_element_length",
            risk="A low value refuses legitimate large objects (multi-frame pixel data, "
            "whole-slide tiles).", example=1 << 30),
    Setting("limits", "max_sequence_depth", "integer", 64,
            "Deepest nesting of sequences (and encapsulated pixel data) accepted (1..4096). "
            "Default 64: real IODs nest fewer than 10 levels (SR content trees about 8); dcmtk "
            "has no fixed limit.", "limits.max_sequence_depth", example=32),
    Setting("limits", "max_pdu_length", "integer", 4 * 1024 * 1024,
            "Largest PDU accepted other than P-DATA-TF (an A-ASSOCIATE-RQ, say), and the "
            "ceiling of `server.max_pdu_length` (>= 1024). Default 4 MiB, dcmtk's largest "
            "configurable receive PDU (4194302).", "limits.max_pdu_length",
            example=1 << 20),
    Setting("limits", "max_captured_value", "integer", 1024,
            "Largest value the scanner copies for the index keys (UIDs, names, image "
            "attributes; 64..1 MiB). Default 1024: the longest key kept is a PN of five "
            "64-character components.", "limits.max_captured_value", example=2048),
    Setting("limits", "max_inflated_length", "integer", 4 << 30,
            "Largest Deflated Explicit VR Little Endian data set (PS3.5 A.5) accepted once "
            "inflated (>= 1024). Default 4 GiB: deflate expands up to about 1000:1, so an "
            "unbounded 4 MB upload could claim 4 GB.", "limits.max_inflated_length",
            example=1 << 30),
    Setting("limits", "acse_timeout", "number", 30.0,
            "Seconds to wait for the A-ASSOCIATE-RQ once connected, and for association "
            "set-up and release PDUs (the ARTIM timer, PS3.8 9.1.5); then the connection is "
            "closed (> 0). Default 30, dcmtk's `--acse-timeout` and pynetdicom's "
            "`acse_timeout`.", "acse_timeout", example=10.0),
    Setting("limits", "dimse_timeout", "number", 60.0,
            "Seconds an established association may stay silent before we abort it "
            "(A-ABORT; > 0). Default 60: Orthanc closes an idle association after 30 "
            "(`DicomScpTimeout`), dcmtk's storescp never (`--dimse-timeout` unlimited); 60 "
            "spares a sender pausing between instances.", "dimse_timeout",
            risk="A long timeout keeps the threads of vanished peers until it expires.",
            example=30.0),
    Setting("limits", "network_timeout", "number", 30.0,
            "Seconds to wait for a TCP connection that storecore opens itself: forwarding "
            "to a destination and Storage Commitment reports on a new association (> 0); "
            "once connected, acse_timeout and dimse_timeout apply to those associations "
            "too. Default 30, dcmtk's `--socket-timeout` (`-to`) and pynetdicom's "
            "`network_timeout`.", "network_timeout",
            risk="Too short a timeout turns a slow peer into retries with back-off.",
            example=10.0),
    Setting("limits", "max_associations", "integer", 64,
            "Associations served at once (>= 1). One more is answered A-ASSOCIATE-RJ "
            "rejected-transient, source service-provider (presentation), reason "
            "local-limit-exceeded (PS3.8 Table 9-21): senders retry it later. Default 64: "
            "dcmtk's dcmqrscp caps at `MaxAssociations = 16` in its shipped configuration; "
            "storecore serves each association in a thread that mostly waits on I/O and holds "
            "at most one PDU (`server.max_pdu_length` + 256 KiB), so 64 bound it to about "
            "25 MiB.", "max_associations",
            risk="Too low a cap makes busy modalities retry; too high lets one sender's "
            "parallel associations exhaust threads and disk bandwidth.", example=8),
    Setting("metrics", "port", "integer", 9464,
            "TCP port of the metrics endpoint (0: any free one).", "metrics_port",
            example=9465),
    Setting("metrics", "host", "string", "127.0.0.1",
            "Address of the metrics endpoint.", "metrics_host",
            risk="Another address exposes the archive's counters (no authentication).",
            example="0.0.0.0"),
    Setting("forward", "name", "string", None,
            "The rule's name, unique (required; `storecore archive forward --to NAME`).",
            example="to-pacs"),
    Setting("forward", "destination", "string", None,
            "The Storage SCP to send to (required): `AE@HOST:PORT`, or the AE title of a "
            "`[peers.ae.<AE title>]` peer with the `destination` role (its `host` and "
            "`port`). An `AE@HOST:PORT` naming a declared peer must agree with its table.",
            example="PACS"),
    Setting("forward", "trigger", "string", "on-store",
            "`on-store`: each matching instance once stored; `on-study-stable`: the whole "
            "study over one association once no instance of it arrived for `stable_seconds`.",
            choices=("on-store", "on-study-stable"), example="on-study-stable"),
    Setting("forward", "stable_seconds", "number", 60.0,
            "With `on-study-stable`: the quiet time that makes a study stable (>= 0).",
            example=30),
    Setting("forward", "match", "table", {},
            "Index key -> accepted values (lists of strings), e.g. `{ modality = [\"CT\"] }`; "
            "empty: every instance.", example={"modality": ["CT", "MR"]}),
    Setting("forward", "transfer_syntaxes", "list of strings", [],
            "Syntaxes to send in by preference (UIDs or keywords), through the transcoding "
            "matrix; empty: as stored, else what the destination accepts.",
            example=["JPEGLSLossless"]),
    Setting("forward", "allow_lossy", "boolean", False,
            "Allow lossy output when the destination accepts nothing lossless (NEW_UID: a "
            "new SOP Instance UID).", risk="The destination gets a lossy copy.", example=True),
    Setting("forward", "commit", "boolean", False,
            "Request Storage Commitment after each batch; a job is done only once committed.",
            example=True),
    Setting("validation", "mode", "string", "strict",
            "What a validator's error does: `strict` refuses the instance (0xA900); "
            "`lenient` stores it and answers 0xB007.", choices=("strict", "lenient"),
            risk="`lenient` archives instances that do not match their SOP Class.",
            example="lenient"),
    Setting("validation", "warning_status", "status", None,
            "The status a warning is answered with (e.g. `0xB007`); absent: warnings are "
            "recorded, not answered.", example="0xB007"),
    Setting("validation", "failure_status", "status", "0xB007",
            "The status when a validator raised or could not be loaded (the instance is "
            "stored, the failure recorded).", example="0xA900"),
    Setting("validation", "disabled", "list of strings", [],
            "Labels of validators not to run, e.g. `builtin:iod`.", example=["builtin:iod"]),
    Setting("validation", "per_ae", "table", {},
            "Calling AE title -> a table of the keys above that differ for that sender, e.g. "
            "`[validation.per_ae.OLD_CT]` `mode = \"lenient\"`.",
            example={"OLD_CT": {"mode": "lenient"}}),
)  # fmt: skip

_BY_TABLE: dict[str, dict[str, Setting]] = {}
for _s in SETTINGS:
    _BY_TABLE.setdefault(_s.table, {})[_s.key] = _s


@dataclass(frozen=True)
class ServeConfig:
    """What ``storecore serve`` runs with (see :data:`SETTINGS` for each field)."""

    ae_title: str = "STORECORE"
    host: str = "0.0.0.0"
    port: int = 11112
    max_pdu_length: int = 128 * 1024
    tls_certificate: Path | None = None
    tls_private_key: Path | None = None
    tls_ca_certificates: Path | None = None
    tls_require_client_certificate: bool = False
    allowed_calling_ae_titles: tuple[str, ...] = ()
    peers: tuple[Peer, ...] = ()
    directory: tuple[tuple[str, str, int], ...] = ()
    sop_classes: tuple[str, ...] = ()
    transfer_syntaxes: tuple[str, ...] = ()
    promiscuous: bool = False
    path: Path = Path("archive")
    layout: Layout = Layout.STUDY
    duplicates: DuplicatePolicy = DuplicatePolicy.KEEP
    durability: Durability = Durability.FSYNC
    store_transfer_syntax: str | None = None
    store_transfer_syntax_by_modality: tuple[tuple[str, str], ...] = ()
    allow_lossy: bool = False
    uid_root: str | None = None
    on_transcode_failure: TranscodeFailure = TranscodeFailure.REFUSE
    flush_interval: float = 1.0
    min_free_bytes: int = 1 << 30
    reservation_bytes: int = 64 << 20
    limits: Limits = DEFAULT_LIMITS
    acse_timeout: float = 30.0
    dimse_timeout: float = 60.0
    network_timeout: float = 30.0
    max_associations: int = 64
    forward: tuple[Any, ...] = field(default=(), compare=False)
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    validation: dict[str, Any] | None = field(default=None, compare=False)
    source: Path | None = field(default=None, compare=False)

    def policy(self, *, observe_finding: Any = None) -> StoragePolicy:
        """The archive's storage policy.

        `observe_finding`, if given, is called with each validator finding
        (``storecore.validators.Finding``), e.g. to count them in the metrics.
        """
        policy = StoragePolicy(
            duplicates=self.duplicates,
            durability=self.durability,
            store_transfer_syntax=self.store_transfer_syntax,
            store_transfer_syntax_by_modality=dict(self.store_transfer_syntax_by_modality),
            allow_lossy=self.allow_lossy,
            uid_root=self.uid_root,
            on_transcode_failure=self.on_transcode_failure,
            min_free_bytes=self.min_free_bytes,
            reservation_bytes=self.reservation_bytes,
            flush_interval=self.flush_interval,
            limits=self.limits,
        )
        if self.forward:
            from storecore.forward import router

            policy = replace(policy, route=router(self.forward))
        if self.validation is None:
            return policy
        from storecore.validators import ValidationConfig, default_registry

        check = default_registry().validator(
            ValidationConfig.from_mapping(self.validation),
            limits=policy.limits,
            lenient_odd_length=policy.lenient_odd_length,
            observe=observe_finding,
        )
        return replace(policy, validators=(check,))

    def calling_ae_titles(self) -> frozenset[str] | None:
        """The callers admitted: those of ``allowed_calling_ae_titles`` and the peers
        with an inbound role; None (anyone) when neither names one."""
        titles = {*self.allowed_calling_ae_titles}
        titles |= {p.ae_title for p in self.peers if p.services}
        return frozenset(titles) or None

    def peer_services(self) -> dict[str, frozenset[str]]:
        """Declared peer -> the services it may request of us (``store``, ``echo``,
        ``commit``); callers not in it are not restricted per service."""
        return {p.ae_title: p.services for p in self.peers}

    def timeouts(self) -> Timeouts:
        """The [limits] timeouts, for the associations we accept and those we open."""
        from storecore.net.channel import Timeouts

        return Timeouts(
            acse=self.acse_timeout, dimse=self.dimse_timeout, network=self.network_timeout
        )

    def report_addresses(self) -> dict[str, tuple[str, int]]:
        """AE title -> (host, port) where its Storage Commitment reports may go on a
        new association: ``[peers.directory]`` and the peers with the ``commit`` role
        and an address (PS3.4 J.3.3)."""
        out = {ae: (host, port) for ae, host, port in self.directory}
        for p in self.peers:
            if "commit" in p.roles and p.host is not None and p.port is not None:
                out[p.ae_title] = (p.host, p.port)
        return out

    def override(self, **changes: Any) -> ServeConfig:
        """Command-line options (None: not given) over the file's values."""
        given = {k: v for k, v in changes.items() if v is not None}
        return _check(replace(self, **given), "command line")


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list of strings": (list,),
    "table": (dict,),
    "status": (int, str),
}

# a relative file name in these is relative to the config file, not the cwd
_PATHS = ("path", "tls_certificate", "tls_private_key", "tls_ca_certificates")


def _checked(where: str, name: str, setting: Setting, value: Any) -> Any:
    """`value` if it is of the setting's kind and among its choices, else ConfigError."""
    kinds = _TYPES[setting.kind]
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise ConfigError(f"{where}: {name} has the wrong type ({value!r}; {setting.kind})")
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {name} must be a list of strings ({value!r})")
    values = value if isinstance(value, list) else [value]
    if setting.choices and any(v not in setting.choices for v in values):
        *first, last = setting.choices
        raise ConfigError(f"{where}: {name} = {value!r}: choose {', '.join(first)} or {last}")
    return value


def _table(where: str, table: str, content: Any) -> dict[str, Any]:
    """The keys of a table, each checked against :data:`SETTINGS`."""
    if not isinstance(content, dict):
        raise ConfigError(f"{where}: {table} must be a table ([{table}])")
    keys = _BY_TABLE[table]
    out: dict[str, Any] = {}
    for key, value in content.items():
        subtable = f"{table}.{key}"
        if subtable in _BY_TABLE:
            out[key] = value  # read by its own table's reader
            continue
        setting = keys.get(key) or keys.get("*")
        if setting is None:
            known = ", ".join(k for k in keys) + "".join(
                f", [{t}]" for t in _BY_TABLE if t.startswith(table + ".")
            )
            raise ConfigError(f"{where}: unknown key {table}.{key} (known: {known})")
        out[key] = _checked(where, f"{table}.{key}", setting, value)
    return out


def load_config(path: str | Path) -> ServeConfig:
    """Read and check a TOML configuration file.

    Raises
    ------
    ConfigError
        The file cannot be read, is not TOML, or a table or key is unknown, of
        the wrong type or value; the message names the file and the key.
    """
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    where = str(source)
    values: dict[str, Any] = {}
    forward: Any = None
    for table, content in data.items():
        if table not in TABLES or "." in table:
            known = ", ".join(t for t in TABLES if "." not in t)
            raise ConfigError(f"{where}: unknown table [{table}] (known: {known})")
        if table == "forward":
            forward = content  # read once the peers it may name are known
            continue
        keys = _table(where, table, content)
        if table == "validation":
            values["validation"] = _validation(where, keys)
            continue
        if table == "metrics":
            # the table's presence turns the endpoint on, on its default port
            values["metrics_port"] = _BY_TABLE["metrics"]["port"].default
        _collect(where, table, keys, values)
    if forward is not None:
        values["forward"] = _forward_rules(source, forward, data, values.get("peers", ()))
    if "directory" in values:
        values["directory"] = _directory(where, values["directory"])
    if "limits" in values:
        try:
            values["limits"] = Limits(**values["limits"])
        except ValueError as exc:
            raise ConfigError(f"{where}: limits.{exc}") from None
    for name, enum in (("layout", Layout), ("duplicates", DuplicatePolicy)):
        if name in values:
            values[name] = enum(values[name])
    if "durability" in values:
        values["durability"] = Durability(values["durability"])
    for name in _PATHS:
        if name in values:
            values[name] = (source.parent / values[name]).resolve() if values[name] else None
    if "on_transcode_failure" in values:
        values["on_transcode_failure"] = TranscodeFailure(values["on_transcode_failure"])
    for name in ("store_transfer_syntax", "uid_root"):
        if values.get(name) == "":
            values[name] = None
    if "store_transfer_syntax_by_modality" in values:
        by_modality = values["store_transfer_syntax_by_modality"]
        if not all(isinstance(v, str) for v in by_modality.values()):
            raise ConfigError(
                f"{where}: storage.store_transfer_syntax_by_modality maps modalities to "
                "syntaxes (strings)"
            )
        values["store_transfer_syntax_by_modality"] = tuple(by_modality.items())
    return _check(ServeConfig(**values, source=source), where)


def _collect(where: str, table: str, keys: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in keys.items():
        subtable = f"{table}.{key}"
        if subtable == "peers.directory":
            values["directory"] = _table(where, subtable, value)
        elif subtable == "peers.ae":
            values["peers"] = _peers(where, value)
        elif subtable in _BY_TABLE:
            _collect(where, subtable, _table(where, subtable, value), values)
        else:
            name = _BY_TABLE[table][key].field
            assert name is not None
            if name.startswith("limits."):  # a field of the Limits value
                values.setdefault("limits", {})[name.removeprefix("limits.")] = value
            else:
                values[name] = tuple(value) if isinstance(value, list) else value


def _peers(where: str, content: Any) -> tuple[Peer, ...]:
    """``[peers.ae.<AE title>]`` tables, each checked against :data:`SETTINGS`."""
    from storecore.errors import LocalProtocolError
    from storecore.ul.pdu import validate_ae_title

    if not isinstance(content, dict):
        raise ConfigError(f"{where}: peers.ae must hold one table per peer ([peers.ae.AE])")
    keys = _BY_TABLE["peers.ae"]
    peers = []
    for ae, entry in content.items():
        name = f"peers.ae.{ae}"
        try:
            title = validate_ae_title(ae)
        except LocalProtocolError as exc:
            raise ConfigError(f"{where}: [{name}]: {exc}") from None
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: {name} must be a table ([{name}])")
        for key in entry:
            if key not in keys:
                raise ConfigError(f"{where}: unknown key {name}.{key} (known: {', '.join(keys)})")
        given = {k: _checked(where, f"{name}.{k}", keys[k], v) for k, v in entry.items()}
        for k, s in keys.items():
            if s.required and k not in given:
                raise ConfigError(f"{where}: {name}.{k} is required")
        host, port = given.get("host"), given.get("port")
        if (host is None) != (port is None):
            raise ConfigError(f"{where}: {name}: give both host and port, or neither")
        if port is not None and not 0 < port < 65536:
            raise ConfigError(f"{where}: {name}.port {port} is out of range (1..65535)")
        if host == "":
            raise ConfigError(f"{where}: {name}.host is empty")
        roles = frozenset(given["roles"])
        if "destination" in roles and host is None:
            raise ConfigError(
                f"{where}: {name}: the destination role needs host and port (we connect to it)"
            )
        peers.append(Peer(title, roles, host, port))
    if len({p.ae_title for p in peers}) != len(peers):
        raise ConfigError(f"{where}: peers.ae names an AE title twice (spaces are not significant)")
    return tuple(peers)


def _directory(where: str, entries: dict[str, str]) -> tuple[tuple[str, str, int], ...]:
    out = []
    for ae, address in entries.items():
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{where}: peers.directory.{ae} = {address!r}: use HOST:PORT")
        out.append((ae, host, int(port)))
    return tuple(out)


def _validation(where: str, table: dict[str, Any]) -> dict[str, Any]:
    from storecore.validators import ValidationConfig

    for ae, override in table.get("per_ae", {}).items():
        if not isinstance(override, dict):
            raise ConfigError(f"{where}: validation.per_ae.{ae} must be a table")
        _table(f"{where}: validation.per_ae.{ae}", "validation", override)
    try:
        ValidationConfig.from_mapping(table)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: [validation]: {exc}") from None
    return dict(table)


def _forward_rules(
    source: Path, content: Any, data: dict[str, Any], peers: tuple[Peer, ...]
) -> tuple[Any, ...]:
    from storecore.forward import ForwardRule

    by_title = {p.ae_title: p for p in peers}

    if not isinstance(content, list):
        raise ConfigError(f"{source}: forward must be an array of tables ([[forward]])")
    ae_title = str(data.get("server", {}).get("ae_title", "STORECORE"))
    keys = _BY_TABLE["forward"]
    rules = []
    for n, rule in enumerate(content, start=1):
        where = f"{source}: forward #{n}"
        if not isinstance(rule, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(rule) - set(keys)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {sorted(unknown)[0]} (known: {', '.join(keys)})"
            )
        if not rule.get("name"):
            raise ConfigError(f"{where}: name is required")
        if "destination" not in rule:
            raise ConfigError(f"{where}: destination is required")
        given = {k: _checked(where, k, keys[k], v) for k, v in rule.items()}
        value = {k: s.default for k, s in keys.items()} | given
        stable = value["stable_seconds"]
        if stable < 0:
            raise ConfigError(f"{where}: stable_seconds must be a number of seconds >= 0")
        dest = value["destination"]
        ae, at, address = dest.partition("@")
        host, _, port = address.rpartition(":")
        peer = by_title.get(ae)
        if not at and peer is not None:
            if "destination" not in peer.roles:
                raise ConfigError(
                    f"{where}: destination {dest!r}: [peers.ae.{ae}] lacks the destination role"
                )
            assert peer.host is not None and peer.port is not None  # checked with the peer
            host, port = peer.host, str(peer.port)
        elif not at:
            raise ConfigError(
                f"{where}: destination {dest!r}: use AE@HOST:PORT, or the AE title of a "
                "[peers.ae.AE] table with the destination role"
            )
        if not ae or not host or not port.isdigit():
            raise ConfigError(f"{where}: destination {dest!r}: use AE@HOST:PORT")
        if (
            at
            and peer is not None
            and ("destination" not in peer.roles or (peer.host, peer.port) != (host, int(port)))
        ):
            raise ConfigError(
                f"{where}: destination {dest!r} contradicts [peers.ae.{ae}] (roles "
                f"{', '.join(sorted(peer.roles))}; address {peer.host}:{peer.port}): name "
                f"it as destination = {ae!r}"
            )
        match = value["match"]
        if not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in match.values()
        ):
            raise ConfigError(f"{where}: match must map keys to lists of strings")
        rules.append(
            ForwardRule(
                name=value["name"],
                ae_title=ae,
                host=host,
                port=int(port),
                match={k: tuple(v) for k, v in match.items()},
                allow_lossy=value["allow_lossy"],
                calling_ae_title=ae_title,
                trigger=value["trigger"],
                stable_seconds=float(stable),
                commit=value["commit"],
                transfer_syntaxes=tuple(
                    _forward_syntax(where, t) for t in value["transfer_syntaxes"]
                ),
            )
        )
    if len({r.name for r in rules}) != len(rules):
        raise ConfigError(f"{source}: forwarding rule names must be unique")
    return tuple(rules)


def _forward_syntax(where: str, value: object) -> str:
    try:
        return transfer_syntax(str(value)).uid
    except LookupError:
        raise ConfigError(f"{where}: transfer syntax {value!r} is unknown") from None


def _store_syntax(where: str, name: str, value: str, config: ServeConfig) -> str:
    """The UID of a storage target, checked reachable from a native syntax by the
    transcoding matrix with the codecs installed (PS3.2 Table N.5-9)."""
    from storecore.transcode.matrix import transcode_path
    from storecore.transcode.records import TranscodePath

    try:
        ts = transfer_syntax(value)
    except LookupError:
        raise ConfigError(f"{where}: storage.{name} {value!r} is unknown") from None
    decision = transcode_path(
        "1.2.840.10008.1.2.1", ts, allow_lossy=config.allow_lossy
    )  # Explicit VR Little Endian
    if decision.path is TranscodePath.NOT_SUPPORTED:
        raise ConfigError(f"{where}: storage.{name} {ts.keyword}: {decision.reason}")
    return ts.uid


def _check(config: ServeConfig, where: str) -> ServeConfig:
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"{where}: port {config.port} is out of range")
    if config.metrics_port is not None and not 0 <= config.metrics_port <= 65535:
        raise ConfigError(f"{where}: metrics.port {config.metrics_port} is out of range")
    if config.store_transfer_syntax:
        uid = _store_syntax(where, "store_transfer_syntax", config.store_transfer_syntax, config)
        config = replace(config, store_transfer_syntax=uid)
    if config.store_transfer_syntax_by_modality:
        by_modality = tuple(
            (modality, _store_syntax(where, f"store_transfer_syntax_by_modality.{modality}",
                                     value, config) if value else "")
            for modality, value in config.store_transfer_syntax_by_modality
        )  # fmt: skip
        config = replace(config, store_transfer_syntax_by_modality=by_modality)
    if config.uid_root is not None and (
        not is_valid_uid(config.uid_root) or len(config.uid_root) > 30
    ):
        raise ConfigError(
            f"{where}: storage.uid_root {config.uid_root!r}: a valid UID of at most 30 "
            "characters (the new UIDs append about 33 digits)"
        )
    declared = {p.ae_title for p in config.peers}
    for ae in config.allowed_calling_ae_titles:
        if ae.strip() in declared:
            raise ConfigError(
                f"{where}: peers.allowed_calling_ae_titles lists {ae!r}, which [peers.ae.{ae}] "
                "declares: give its roles there only"
            )
    for ae, _, _ in config.directory:
        if ae.strip() in declared:
            raise ConfigError(
                f"{where}: peers.directory.{ae} is also declared by [peers.ae.{ae}]: give "
                "its host and port there only"
            )
    if config.max_pdu_length > config.limits.max_pdu_length:
        raise ConfigError(
            f"{where}: server.max_pdu_length {config.max_pdu_length} exceeds "
            f"limits.max_pdu_length {config.limits.max_pdu_length}"
        )
    for name in ("acse_timeout", "dimse_timeout", "network_timeout"):
        if not getattr(config, name) > 0:
            raise ConfigError(f"{where}: limits.{name} must be a number of seconds > 0")
    if config.max_associations < 1:
        raise ConfigError(f"{where}: limits.max_associations must be >= 1")
    if config.flush_interval <= 0:
        raise ConfigError(f"{where}: flush_interval must be > 0")
    for name in ("min_free_bytes", "reservation_bytes"):
        if getattr(config, name) < 0:
            raise ConfigError(f"{where}: {name} must be >= 0")
    tls = (config.tls_certificate, config.tls_private_key)
    if any(tls) and not all(tls):
        raise ConfigError(f"{where}: server.tls needs both certificate and private_key")
    if not config.tls_certificate and (
        config.tls_ca_certificates or config.tls_require_client_certificate
    ):
        raise ConfigError(f"{where}: server.tls: certificate and private_key are missing")
    if config.tls_require_client_certificate and not config.tls_ca_certificates:
        raise ConfigError(f"{where}: server.tls.require_client_certificate needs ca_certificates")
    return config
