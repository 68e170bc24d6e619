"""Validator findings become C-STORE statuses over a real association.

storecore's StorageSCU sends to a StorageSCP serving an Archive whose policy
runs the registry with the third-party plug-in of tests/data/acme_validators
installed; each status path (0xA900, 0xB007, 0xB000, 0xB006) is reached and is
what the sender's outcome reports.
"""

from __future__ import annotations

import logging
from pathlib import Path

from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import Archive, StoragePolicy
from storecore.validators import Registry, ValidationConfig
from tests.unit.validators.helpers import DELETE, conformant_ct, write
from tests.unit.validators.plugin import installed_plugin

log = logging.getLogger(__name__)


def test_each_status_path_over_an_association(tmp_path: Path) -> None:
    cases = {
        "clean": (conformant_ct(), 0x0000),
        "builtin-error": (conformant_ct(KVP=DELETE), 0xA900),
        "plugin-error": (conformant_ct(ImageComments="acme:error"), 0xA900),
        "coerced": (conformant_ct(ImageComments="acme:coerced"), 0xB000),
        "removed": (conformant_ct(ImageComments="acme:removed"), 0xB006),
        "plugin-raises": (conformant_ct(ImageComments="acme:raise"), 0xB007),
    }
    files = {
        name: write(tmp_path / "in", ds, name=f"{name}.dcm") for name, (ds, _) in cases.items()
    }
    config = ValidationConfig(per_ae={"OLD_MODALITY": {"mode": "lenient"}})
    with installed_plugin(tmp_path / "site"):
        registry = Registry()
        assert [r.label for r in registry.validators_for("1.2.840.10008.5.1.4.1.1.2")] == [
            "acme:ct",
            "acme:site",
            "builtin:common",
            "builtin:iod",
        ]
        policy = StoragePolicy(min_free_bytes=0, validators=(registry.validator(config),))
        with Archive(tmp_path / "archive", policy=policy) as archive:
            scp = StorageSCP(archive.sink(), host="127.0.0.1", port=0, ae_title="STORECORE")
            with scp:
                port = scp.address[1]
                strict = StorageSCU("STRICT_SCU").send(
                    files.values(), "127.0.0.1", port, "STORECORE"
                )
                lenient = StorageSCU("OLD_MODALITY").send(
                    [files["builtin-error"], files["plugin-error"]], "127.0.0.1", port, "STORECORE"
                )
            got = {
                p.stem: (o.status, o.comment) for p, o in zip(files.values(), strict, strict=True)
            }
            for name, (status, comment) in got.items():
                log.info("STRICT_SCU %s: 0x%04X %s", name, status or 0, comment)
            assert {k: v[0] for k, v in got.items()} == {k: v[1] for k, v in cases.items()}
            assert got["builtin-error"][1] == "(0018,0060) Type 2 KVP missing"
            assert got["plugin-error"][1] == "(0020,4000) acme says no"
            assert got["coerced"][1] == "(0010,0020) Patient ID normalised"
            assert (got["plugin-raises"][1] or "").startswith("validator acme:ct failed")
            # the lenient sender: the same errors are stored with 0xB007
            assert [(o.status, o.comment) for o in lenient] == [
                (0xB007, "(0018,0060) Type 2 KVP missing"),
                (0xB007, "(0020,4000) acme says no"),
            ]
            rows = {r.sop_instance_uid: r for r in archive.instances()}
            stored = {o.sop_instance_uid for o in strict + lenient if o.ok}
            assert set(rows) == stored
            by_uid = {cases[n][0].SOPInstanceUID: n for n in cases}
            findings = {by_uid[u]: r.findings for u, r in rows.items()}
            assert findings["clean"] == []
            assert findings["removed"] == [
                {
                    "status": 0xB006,
                    "comment": "(0020,4000) private tags removed",
                    "validator": "acme:ct",
                }
            ]
            assert [f["status"] for f in findings["builtin-error"]] == [0xB007]
