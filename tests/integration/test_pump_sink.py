"""The SCP's fast path (``pump_dataset``) with a sink whose file cannot be written.

A write that fails on the fast path answers 0xA700, whether the handle can be
told (``direct_failed``) or not, and the association carries the next instance.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import StoreRequest, StoreResult

from ..unit.storage.helpers import write_instance


class _FullDisk:
    """A handle whose file is /dev/full: every write fails with ENOSPC."""

    def __init__(self, tellable: bool) -> None:
        self.fd = os.open("/dev/full", os.O_WRONLY)
        self.failed = 0
        if tellable:
            self.direct_failed = self._failed

    def _failed(self, error: int) -> None:
        self.failed = error

    def direct(self) -> tuple[int, None]:
        return self.fd, None

    def write(self, chunk: memoryview) -> None:
        raise AssertionError("the fast path was not taken")

    def finish(self) -> StoreResult:
        os.close(self.fd)
        return StoreResult(0xA700, os.strerror(self.failed)) if self.failed else StoreResult(0)

    def abort(self) -> None:
        os.close(self.fd)


class _Sink:
    def __init__(self, tellable: bool) -> None:
        self.tellable = tellable

    def begin(self, request: StoreRequest) -> _FullDisk:
        return _FullDisk(self.tellable)


@pytest.mark.parametrize("tellable", [True, False], ids=["direct_failed", "refused-by-the-scp"])
def test_a_failed_write_on_the_fast_path_is_0xa700_and_the_association_goes_on(
    tmp_path: Path, tellable: bool
) -> None:
    files = [write_instance(tmp_path, sop_instance_uid=generate_uid()) for _ in range(3)]
    with StorageSCP(_Sink(tellable), host="127.0.0.1", port=0) as scp:
        scp.start()
        outcomes = StorageSCU(async_operations=1).send(files, *scp.address, "STORECORE")
    assert [o.status for o in outcomes] == [0xA700] * 3
    assert all("No space left" in (o.comment or "") for o in outcomes)
