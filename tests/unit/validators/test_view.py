"""The validators' view of a file: read ahead with the ingest scanner's tokens, or mapped whole.

With tokens, :func:`open_view` reads only the bytes before the first large
value and maps the file when a check reads past them; every value must be
the one the mapped view (and pydicom) reads.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from storecore.dataset import scan
from storecore.dataset.part10 import read_file_meta
from storecore.validators import InstanceView, open_view
from tests.unit.validators.helpers import conformant_ct, write

_PAST_PIXEL_DATA = 0x7FE10010  # a private element after Pixel Data (odd group 7FE1)


def _views(path: Path) -> tuple[list, int, str]:
    meta = read_file_meta(path.read_bytes()[: 64 * 1024])
    ts = meta.transfer_syntax_uid or "1.2.840.10008.1.2"
    tokens = scan(path.read_bytes()[meta.dataset_offset :], ts)
    return tokens, meta.dataset_offset, ts


def _large_ct(tmp_path: Path) -> Path:
    # 256 x 256 x 16 bits: Pixel Data is past the read-ahead limit (64 KiB)
    ds = conformant_ct(Rows=256, Columns=256, PixelData=b"\x01\x02" * 256 * 256)
    ds.add_new(0x7FE10010, "LO", "PRIVATE")
    ds.add_new(_PAST_PIXEL_DATA + 0x1000, "LT", "after the pixel data ")
    return write(tmp_path, ds)


def _same_values(a: InstanceView, b: InstanceView) -> None:
    assert [t.tag for t in a.top_level()] == [t.tag for t in b.top_level()]
    for t in a.top_level():
        tag = t.tag
        assert a.value(tag) == b.value(tag), hex(tag)
        assert a.text(tag) == b.text(tag), hex(tag)
        assert a.is_empty(tag) == b.is_empty(tag), hex(tag)
        assert a.uint(tag) == b.uint(tag), hex(tag)
        assert a.item_count(tag) == b.item_count(tag), hex(tag)
    assert a.fragments() == b.fragments()


def test_read_ahead_stops_at_pixel_data_and_maps_for_the_rest(tmp_path: Path) -> None:
    path = _large_ct(tmp_path)
    tokens, offset, ts = _views(path)
    data = path.read_bytes()[offset:]
    with open_view(path, offset, ts, tokens=tokens) as view:
        pixel = view.token(0x7FE00010)
        assert pixel is not None
        assert view._head_end == pixel.value_offset  # read ahead: the header only
        assert view._data is None  # nothing mapped yet
        assert view.text(0x00100010) == "Doe^Jane"
        assert view._data is None
        # past the read-ahead: the file is mapped and the value read from it
        assert view.text(_PAST_PIXEL_DATA + 0x1000) == "after the pixel data"
        assert view._data is not None
        assert bytes(view.raw) == data
        raw = view.raw
    with pytest.raises(ValueError):
        bytes(raw)  # released with the view


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "JPEG2000.dcm",
     "emri_small_jpeg_2k_lossless.dcm", "image_dfl.dcm", "SC_rgb_rle_2frame.dcm"],
)  # fmt: skip
def test_read_ahead_and_mapped_views_agree(tmp_path: Path, name: str) -> None:
    path = Path(get_testdata_file(name))
    meta = read_file_meta(path.read_bytes()[: 64 * 1024])
    ts = meta.transfer_syntax_uid or "1.2.840.10008.1.2"
    with open_view(path, meta.dataset_offset, ts) as mapped:
        tokens = list(mapped.tokens)
        with open_view(path, meta.dataset_offset, ts, tokens=tokens) as ahead:
            _same_values(ahead, mapped)
            # and what pydicom reads, for the strings
            ds = pydicom.dcmread(path)
            for keyword in ("SOPInstanceUID", "Modality", "StudyInstanceUID"):
                tag = pydicom.datadict.tag_for_keyword(keyword)
                if keyword in ds:
                    assert ahead.text(tag) == str(ds[keyword].value).strip()


def test_large_ct_views_agree(tmp_path: Path) -> None:
    path = _large_ct(tmp_path)
    tokens, offset, ts = _views(path)
    with open_view(path, offset, ts, tokens=tokens) as ahead, open_view(path, offset, ts) as mapped:
        _same_values(ahead, mapped)


def test_with_the_ingests_head_the_file_is_not_opened(tmp_path: Path) -> None:
    path = _large_ct(tmp_path)
    tokens, offset, ts = _views(path)
    data = path.read_bytes()[offset:]
    gone = tmp_path / "gone.dcm"  # the values come from `head`; the file only for the rest
    with open_view(gone, offset, ts, tokens=tokens, head=data[: 16 * 1024]) as view:
        assert view.text(0x00100020) == "PID-1"
        assert view.uint(0x00280010) == 256
        with pytest.raises(FileNotFoundError):
            view.raw  # noqa: B018
    # a head shorter than the attributes before Pixel Data: read from the file
    with open_view(path, offset, ts, tokens=tokens, head=data[:100]) as view:
        assert view.text(0x00100020) == "PID-1"
        assert view._head_end > 100


def test_ingest_hands_validators_the_data_sets_first_bytes(tmp_path: Path) -> None:
    from storecore.storage import Archive, StoragePolicy
    from storecore.storage.policy import IngestedInstance

    seen: list[IngestedInstance] = []

    def keep(instance: IngestedInstance) -> list[object]:
        seen.append(instance)
        return []

    path = _large_ct(tmp_path / "in")
    policy = StoragePolicy(min_free_bytes=0, validators=(keep,))  # type: ignore[arg-type]
    with Archive(tmp_path / "archive", policy=policy) as archive:
        assert archive.store_file(path).status == 0
    (instance,) = seen
    _, offset, _ = _views(path)
    assert instance.head == path.read_bytes()[offset : offset + 16 * 1024]
    assert instance.tokens is not None
