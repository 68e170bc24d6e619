"""Group ``validators``: the built-in validators on one CT instance, as ingest runs them.

The call is the ingest pipeline's: ``IngestValidator(instance)`` on an
``IngestedInstance`` carrying the ingest scanner's tokens and the data set's
first 16 KiB (as ingest keeps them), so it includes the view (indexing the
tokens; the file is not opened: the CT's header is in those bytes), both built-ins
(``builtin:common``, ``builtin:iod``) and the status mapping. Every call
must find nothing (the corpus CT conforms).

Cases: ``impl`` ``quick`` (as shipped: the C quick tests of
:mod:`storecore._ext._validate`, then the exact checks only if needed) or
``exact`` (the quick tests replaced: the exact Python checks alone, the cost
before issue 7's work); ``cache`` ``warm`` (a tight loop) or ``cold``
(4 MiB hashed and copied before each call, as the pixel data of a received
instance is: what ingest sees; one call per round).

Run: ``PYTHONPATH=src python3 -m pytest benchmarks/test_bench_validators.py
--benchmark-only -p no:cacheprovider --benchmark-group-by=group,param:cache``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import blake3
import pytest

from _corpus import Corpus
from storecore.dataset import scan
from storecore.dataset.part10 import read_file_meta
from storecore.storage.policy import IngestedInstance
from storecore.validators import IngestValidator, Registry, builtin

_FLUSH = bytes(range(256)) * (4 * 4096)  # 4 MiB: more than this machine's L2


def _flush() -> None:
    blake3.blake3(_FLUSH, max_threads=1).digest()
    bytearray(_FLUSH)


@pytest.fixture
def instance(corpus: Corpus) -> IngestedInstance:
    path = Path(corpus.ct["ct_explicit_le"])
    data = path.read_bytes()
    meta = read_file_meta(data[: 64 * 1024])
    assert meta.transfer_syntax_uid is not None
    return IngestedInstance(
        sop_class_uid=meta.media_storage_sop_class_uid or "",
        sop_instance_uid=meta.media_storage_sop_instance_uid or "",
        transfer_syntax_uid=meta.transfer_syntax_uid,
        calling_ae_title="BENCH",
        captures={},
        path=str(path),
        dataset_offset=meta.dataset_offset,
        tokens=scan(data[meta.dataset_offset :], meta.transfer_syntax_uid),
        head=data[meta.dataset_offset : meta.dataset_offset + 16 * 1024],
    )


@pytest.fixture(params=["quick", "exact"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "exact":
        monkeypatch.setattr(builtin, "_common_clean", lambda *args: False)
        monkeypatch.setattr(builtin, "_iod_clean", lambda *args: False)
    yield request.param


@pytest.mark.benchmark(group="validators")
@pytest.mark.parametrize("cache", ["warm", "cold"])
def test_validate_ct(benchmark, instance: IngestedInstance, impl: str, cache: str) -> None:
    check: IngestValidator = Registry(entry_points=False).validator()
    assert check(instance) == []  # loaded, and the CT conforms
    if cache == "warm":
        found = benchmark(check, instance)
    else:
        found = benchmark.pedantic(check, (instance,), setup=_flush, rounds=300, warmup_rounds=5)
    assert found == []
