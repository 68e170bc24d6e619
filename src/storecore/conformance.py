"""The conformance statement, generated from the running configuration (PS3.2, Annex N).

Nothing here is hand-kept text about what storecore does: the SOP classes and
transfer syntaxes come from the configuration the server would run with, the
statuses from the tables the SCP answers with, the transcoding table (PS3.2
Table N.5-9) from :func:`storecore.transcode.matrix.matrix` over the codecs
installed, so the document cannot drift from the code. ``storecore
conformance`` prints it.

References
----------
PS3.2 Annex N (Storage), N.5.2.5 (the SCU's conformance, Table N.5-9);
PS3.4 B.1.2 (the SCP states how long and where instances can be accessed),
B.2.3 (C-STORE statuses), Annex J (Storage Commitment).
"""

from __future__ import annotations

from collections.abc import Callable

from storecore import __version__
from storecore.config import ServeConfig
from storecore.dataset.part10 import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from storecore.storage.policy import DuplicatePolicy, Durability, TranscodeFailure
from storecore.uid import STORAGE_SOP_CLASSES, transfer_syntax

__all__ = ["conformance_statement", "TABLE_N59_HEADING"]

TABLE_N59_HEADING = "Table N.5-9: transcoding, stored (rows) to sent (columns)"

_DUPLICATES = {
    DuplicatePolicy.KEEP: "the stored copy is kept and the new one discarded; Success (0x0000)",
    DuplicatePolicy.OVERWRITE: "the new copy replaces the stored one; Success (0x0000)",
    DuplicatePolicy.REJECT: "refused with 0x0111 (Duplicate SOP Instance)",
    DuplicatePolicy.VERSION: "both are kept, the new one as the next version; Success (0x0000)",
}

_STATUSES = (
    ("0x0000", "Success", "stored: the file and its index row are on disk (fsync durability)"),
    ("0xB000", "Warning", "stored lossy compressed under a new SOP Instance UID, named in "
     "the Error Comment (storage policy with allow_lossy), or a validator reports a "
     "coercion of data elements"),
    ("0xB006", "Warning", "a validator reports elements discarded"),
    ("0xB007", "Warning", "a validator error in lenient mode: stored, not matching the SOP Class"),
    ("0xA700", "Refused", "out of resources: below the free-space watermark, or the disk filled"),
    ("0xA900", "Error", "the data set's SOP Class/Instance UID differ from the command's, "
     "or a validator error in strict mode"),
    ("0xC000", "Error", "the data set cannot be parsed (truncated, malformed, invalid UID), "
     "or the storage policy's transcode cannot be applied to it (refuse)"),
    ("0x0111", "Failure", "duplicate SOP Instance with different content (reject policy)"),
    ("0x0110", "Failure", "processing failure inside the archive (a validator raised)"),
    ("0x0122", "Refused", "SOP Class not supported on the presentation context"),
)  # fmt: skip


def _trigger(rule: object) -> str:
    if getattr(rule, "trigger", "on-store") == "on-study-stable":
        return f"the study, {getattr(rule, 'stable_seconds', 0):g} s after its last instance"
    return "each instance, once stored"


def _ts_name(uid: str) -> str:
    return f"{transfer_syntax(uid).name} ({uid})"


def _ingest_transcoding(config: ServeConfig, add: Callable[[str], None]) -> None:
    """Section 3's transcoding on ingest: the targets, the statuses, the UID map."""
    targets = dict(config.store_transfer_syntax_by_modality)
    add("\n### Transcoding on ingest (PS3.2 Table N.5-9)\n")
    if not config.store_transfer_syntax and not any(targets.values()):
        add("The storage policy names no syntax to store in: every instance is stored in "
            "the syntax it was received in.\n")  # fmt: skip
        return
    default = (
        _ts_name(config.store_transfer_syntax) if config.store_transfer_syntax else "as received"
    )
    add("| instances | stored in |\n|---|---|")
    for modality, uid in targets.items():
        add(f"| Modality {modality} | {_ts_name(uid) if uid else 'as received'} |")
    add(f"| {'all others' if targets else 'all'} | {default} |")
    from storecore.transcode.matrix import transcode_path
    from storecore.transcode.records import TranscodePath

    chosen = {t for t in [config.store_transfer_syntax, *targets.values()] if t}
    lossy = sorted(
        uid
        for uid in chosen
        if transcode_path("1.2.840.10008.1.2.1", uid, allow_lossy=True).path
        is TranscodePath.NEW_UID
    )
    add(
        "\nInstances with Pixel Data are transcoded after validation and before the commit; "
        "instances without Pixel Data are stored as received. A lossless target keeps the "
        "SOP Instance UID (SUPPORTED) and the pixel values exactly; the index records the "
        "path, the codec and its version for each instance."
    )
    if lossy:
        add(
            f"\nLossy output is allowed ({', '.join(_ts_name(u) for u in lossy)}): a lossy "
            "copy is a new instance (PS3.3 C.7.6.1.1.5, NEW_UID). It is stored under a new "
            "SOP Instance UID"
            + (f" under the root `{config.uid_root}`" if config.uid_root else " (`2.25.` + a "
               "UUID, PS3.5 B.2)")
            + ", derived from the received instance so that the same instance sent again "
            "maps to the same UID, with Lossy Image Compression (0028,2110) `01`, Lossy Image "
            "Compression Ratio (0028,2112) and Method (0028,2114), Derivation Description, "
            "Image Type `DERIVED` and a Source Image Sequence (0008,2112) referencing the "
            "original. The C-STORE-RSP is 0xB000 (Coercion of Data Elements: the archive "
            "changed attribute values, PS3.4 B.2.3) with the new UID in the Error Comment. "
            "The original pixel values are not kept. The archive keeps the map of sent to "
            "new SOP Instance UIDs: `storecore archive show`, the `Archive` look-ups and "
            "Storage Commitment find the instance by either UID."
        )  # fmt: skip
    else:
        add(
            "\nLossy output is not allowed: no instance is stored under a UID other than "
            "the one it was sent with."
        )
    if config.on_transcode_failure is TranscodeFailure.REFUSE:
        add(
            "\nAn instance the transcode cannot be applied to (no decoder for the syntax it "
            "came in, pixel data the codec cannot read, an image the encoder cannot code) "
            "is refused with 0xC000 (Cannot understand) and the reason in the Error Comment; "
            "nothing is stored. Not 0x0110 (Processing failure): the outcome is decided by "
            "the data set and the policy, and would be the same on a retry.\n"
        )
    else:
        add(
            "\nAn instance the transcode cannot be applied to (no decoder for the syntax it "
            "came in, pixel data the codec cannot read, an image the encoder cannot code) "
            "is stored as received and answered 0x0000 (the operator's choice, "
            '`on_transcode_failure = "store-as-received"`); its index record says '
            "NOT_SUPPORTED with the reason. No warning status is used: PS3.4 B.2.3 has "
            "0xB000 for coerced elements, 0xB006 for discarded ones and 0xB007 for a data "
            "set that does not match its SOP Class, and none of these happened.\n"
        )


def _syntaxes(config: ServeConfig) -> list[str]:
    from storecore.scp import default_storage_transfer_syntaxes

    return list(config.transfer_syntaxes or default_storage_transfer_syntaxes())


def _peers_section(config: ServeConfig) -> str:
    """Who may associate, and with which services (PS3.2 N.2.1.1's AE policies)."""
    callers = config.calling_ae_titles()
    if callers is None:
        return (
            "\nAny calling AE title may associate (no `[peers]` restriction); the called AE "
            f"title must be `{config.ae_title}`.\n"
        )
    lines = [
        "\nAssociation acceptance: the called AE title must be "
        f"`{config.ae_title}`; a calling AE title not listed below is rejected "
        "(A-ASSOCIATE-RJ rejected-permanent, service-user, calling-AE-title-not-recognized). "
        "A listed caller's proposed presentation contexts for a service it is not allowed "
        "are answered user-rejection (PS3.8 Table 9-18, result 1).\n",
        "| AE title | C-STORE | C-ECHO | Storage Commitment | we connect to it at |",
        "|---|---|---|---|---|",
    ]
    yes = {True: "yes", False: "no"}
    for ae in sorted(config.allowed_calling_ae_titles):
        lines.append(f"| {ae} | yes | yes | yes | |")
    for peer in config.peers:
        address = f"{peer.host}:{peer.port}" if peer.host is not None else ""
        if address:
            why = [r for r in ("destination", "commit") if r in peer.roles]
            address += f" ({', '.join(why) or 'not used'})"
        lines.append(
            f"| {peer.ae_title} | {yes['store' in peer.roles]} | {yes['echo' in peer.roles]} "
            f"| {yes['commit' in peer.roles]} | {address} |"
        )
    return "\n".join(lines) + "\n"


def conformance_statement(config: ServeConfig | None = None) -> str:
    """The statement, in Markdown, for `config` (default: ``storecore serve``'s defaults)."""
    from storecore.transcode.matrix import matrix
    from storecore.transcode.records import TranscodePath

    config = config or ServeConfig()
    syntaxes = _syntaxes(config)
    classes = config.sop_classes or tuple(c.uid for c in STORAGE_SOP_CLASSES)
    out: list[str] = []
    add = out.append
    add(f"# DICOM Conformance Statement: storecore {__version__}\n")
    add(
        f"Implementation Class UID `{IMPLEMENTATION_CLASS_UID}`, Implementation Version "
        f"Name `{IMPLEMENTATION_VERSION_NAME}`. AE title `{config.ae_title}`, port "
        f"{config.port}, maximum PDU length received {config.max_pdu_length} bytes. At most "
        f"{config.max_associations} associations at once: one more is rejected "
        "rejected-transient, source 3, local-limit-exceeded (PS3.8 Table 9-21). An "
        f"association is closed after {config.acse_timeout:g} s without its A-ASSOCIATE-RQ "
        f"(ARTIM) and aborted after {config.dimse_timeout:g} s of silence once established. "
        "Asynchronous Operations Window (PS3.7 D.3.3.3): proposed by a requestor, it is "
        "granted up to 16 operations invoked, performed one at a time and answered in order; "
        "as SCU (`storecore send`, forwarding) storecore proposes 16 (1 performed) and keeps "
        "as many C-STORE requests outstanding as the acceptor grants, one at a time when it "
        "does not answer.\n"
    )
    add("## 1. Application entities and their roles\n")
    add("| SOP Class | UID | SCU | SCP |\n|---|---|---|---|")
    add("| Verification | 1.2.840.10008.1.1 | yes | yes |")
    add("| Storage Commitment Push Model | 1.2.840.10008.1.20.1 | yes | yes |")
    known = {c.uid: c for c in STORAGE_SOP_CLASSES}
    for uid in classes:
        name = known[uid].name if uid in known else "(configured)"
        add(f"| {name} | {uid} | yes | yes |")
    if config.promiscuous:
        add("\nStorage SOP Classes not listed are also accepted (promiscuous mode).")
    add(_peers_section(config))
    add("\n## 2. Transfer syntaxes accepted for storage (in order of preference)\n")
    add("| Transfer Syntax | UID |\n|---|---|")
    for uid in syntaxes:
        add(f"| {transfer_syntax(uid).name} | {uid} |")
    add(
        "\nThe SCP accepts the first syntax the SCU proposes among these, so a sender's "
        "own syntax is taken and nothing is transcoded on the way in. Referenced-pixel "
        "(JPIP) and separate-pixel (SMPTE ST 2110) syntaxes are not accepted: their pixel "
        "data is not in the data set.\n"
    )
    add("## 3. C-STORE SCP behaviour (PS3.4 B.2.3)\n")
    add("| Status | Category | Cause |\n|---|---|---|")
    for code, category, cause in _STATUSES:
        add(f"| {code} | {category} | {cause} |")
    durable = config.durability is Durability.FSYNC
    add(
        "\nEach data set is stored as received (never re-encoded"
        + (
            ", unless the storage policy names a syntax to store in: see Transcoding on "
            "ingest below"
            if config.store_transfer_syntax
            or any(v for _, v in config.store_transfer_syntax_by_modality)
            else ""
        )
        + "), with File Meta Information naming the sender (Source AE Title). "
        + (
            "Success is answered only once the file, its name and its index row are on "
            "disk (fsync durability)."
            if durable
            else "Success is answered from the page cache; data reaches the disk within "
            f"{config.flush_interval:g} s (background durability: a power loss can lose "
            "the last interval)."
        )
    )
    add(f"\nDuplicate SOP Instance UID with different content: {_DUPLICATES[config.duplicates]}. "
        "Identical content is a no-op Success under every policy.")  # fmt: skip
    add(
        "\nDuration and access (PS3.4 B.1.2): instances are kept until deleted by an "
        f"operator (`storecore archive delete`), in `{config.path}`, and can be read back "
        "through the `Archive` API or exported (`storecore archive export`).\n"
    )
    _ingest_transcoding(config, add)
    add("## 4. Storage Commitment Push Model (PS3.4 Annex J)\n")
    add(
        "As SCP: an N-ACTION is verified against the archive: each instance must be "
        "indexed (else Failure Reason 0x0112), of the referenced SOP Class (0x0119), synced "
        "to disk and matching its stored digest (0x0110). Referenced-pixel instances are "
        "never committed. The transaction is persisted before the N-ACTION-RSP. The "
        "N-EVENT-REPORT goes on the requester's association while it is open, otherwise on "
        "a new association (SCP/SCU Role Selection, SCP role) to the address configured for "
        "its AE title, retried with back-off until delivered; pending transactions resume "
        "after a restart. An instance stored under a new SOP Instance UID after lossy "
        "compression on ingest is committed under the UID the requester sent: the archive "
        "finds it through its map of sent to new UIDs and keeps it, lossy compressed, under "
        "the new UID the C-STORE-RSP named (0xB000). As SCU (`storecore send --commit`, "
        "`storecore commit`): the "
        "N-ACTION is sent on its own association and the report awaited there, or (with a "
        "report port) the association is released at once and the report taken on a "
        "listener.\n"
    )
    addresses = config.report_addresses()
    if addresses:
        add("Reports on a new association go to:\n")
        add("| requesting AE title | address |\n|---|---|")
        for ae, (host, port) in addresses.items():
            add(f"| {ae} | {host}:{port} |")
        add("")
    else:
        add(
            "No report address is configured (`[peers.directory]`, or `host` and `port` of "
            "a `[peers.ae]` peer with the `commit` role): a report that cannot go on "
            "the requester's association stays pending, and is recorded undeliverable once "
            "its retries are spent.\n"
        )
    add("## 5. C-STORE SCU behaviour (PS3.2 N.5.2.5.1)\n")
    add(
        "Storage requests are initiated by a user (`storecore send`, or an application "
        "calling `StorageSCU.send`). One association carries the whole batch (or N in "
        "parallel with `-j N`); each SOP Class is proposed with the syntaxes of its files, "
        "then Explicit and Implicit VR Little Endian. A file is sent as is when its own "
        "syntax is accepted; otherwise through the transcoding matrix below, preferring "
        "lossless output (SUPPORTED) to lossy (NEW_UID, only when allowed), native to "
        "compressed, then the peer's order. A file that cannot be sent in any accepted "
        "syntax is reported NOT_SUPPORTED and not sent.\n"
    )
    if config.forward:
        add(
            "Storage requests are also made automatically, once an instance is stored, by "
            "these forwarding rules (each queued durably with the instance, retried with "
            "back-off on 0xA7xx or an unreachable destination, stopped on a refusal):\n"
        )
        add(
            "| rule | destination | instances | preferred syntaxes | lossy |\n|---|---|---|---|---|"
        )
        for rule in config.forward:
            match = "; ".join(f"{k} in {', '.join(v)}" for k, v in rule.match.items()) or "all"
            add(
                f"| {rule.name} | {_trigger(rule)} | {rule.ae_title}@{rule.host}:{rule.port} | "
                f"{match} | "
                f"{', '.join(rule.transfer_syntaxes) or 'as stored'} | "
                f"{'allowed' if rule.allow_lossy else 'no'} |"
            )
        add("")
    add(f"## 6. {TABLE_N59_HEADING}\n")
    table = matrix(syntaxes, allow_lossy=True)
    short = {
        TranscodePath.SUPPORTED: "S",
        TranscodePath.NEW_UID: "N",
        TranscodePath.NOT_SUPPORTED: "-",
    }
    add("S: SUPPORTED (the SOP Instance UID kept); N: NEW_UID (lossy output, a new SOP "
        "Instance UID; only when lossy output is allowed); -: NOT_SUPPORTED.\n")  # fmt: skip
    add("| stored \\ sent | " + " | ".join(syntaxes) + " |")
    add("|---|" + "---|" * len(syntaxes))
    for a in syntaxes:
        cells = [short[table[(a, b)].path] for b in syntaxes]
        add(f"| {a} | " + " | ".join(cells) + " |")
    add("")
    return "\n".join(out)


def parse_table_n59(document: str) -> dict[tuple[str, str], str]:
    """Read Table N.5-9 back from a statement (what the tests compare with the matrix)."""
    lines = document.split(TABLE_N59_HEADING, 1)[1].splitlines()
    rows = [line for line in lines if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")][1:]
    result: dict[tuple[str, str], str] = {}
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for target, cell in zip(header, cells[1:], strict=True):
            result[(cells[0], target)] = cell
    return result
