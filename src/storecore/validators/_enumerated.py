"""Enumerated Values the built-in IOD validator checks, transcribed from PS3.3.

Only Enumerated Values (a value outside the list is non-conformant), never
Defined Terms (which may be extended). Each row cites the PS3.3 clause it was
transcribed from. An attribute is checked only when present and not empty
(its presence is the module tables' business, :mod:`._iod_table`).

Row: (tag, keyword, value index or None for every value, allowed values,
reference). Values of binary VRs (US) are given as decimal strings.
"""

from __future__ import annotations

EnumRow = tuple[int, str, int | None, frozenset[str], str]


def _row(tag: int, keyword: str, index: int | None, values: str, ref: str) -> EnumRow:
    return (tag, keyword, index, frozenset(values.split("|")), ref)


_MONO = "MONOCHROME1|MONOCHROME2"

#: Rows checked for every covered IOD in which the attribute appears.
COMMON: tuple[EnumRow, ...] = (
    _row(0x00100040, "PatientSex", 0, "M|F|O", "PS3.3 C.7.1.1"),
    _row(0x00280103, "PixelRepresentation", 0, "0|1", "PS3.3 C.7.6.3"),
    _row(0x00280006, "PlanarConfiguration", 0, "0|1", "PS3.3 C.7.6.3.1.3"),
    _row(0x00280301, "BurnedInAnnotation", 0, "YES|NO", "PS3.3 C.7.6.1"),
    _row(0x00282110, "LossyImageCompression", 0, "00|01", "PS3.3 C.7.6.1.1.5"),
)

_IMAGE_TYPE_12 = (
    _row(0x00080008, "ImageType", 0, "ORIGINAL|DERIVED", "PS3.3 C.7.6.1.1.2"),
    _row(0x00080008, "ImageType", 1, "PRIMARY|SECONDARY", "PS3.3 C.7.6.1.1.2"),
)
_RT_MODALITY = "PS3.3 C.8.8.1"
_INTENT = "FOR PRESENTATION|FOR PROCESSING"
_SR = (
    _row(0x00080060, "Modality", 0, "SR", "PS3.3 C.17.1"),
    _row(0x0040A491, "CompletionFlag", 0, "PARTIAL|COMPLETE", "PS3.3 C.17.2"),
    _row(0x0040A493, "VerificationFlag", 0, "UNVERIFIED|VERIFIED", "PS3.3 C.17.2"),
    _row(0x0040A040, "ValueType", 0, "CONTAINER", "PS3.3 C.17.3 (root content item)"),
    _row(0x0040A050, "ContinuityOfContent", 0, "SEPARATE|CONTINUOUS", "PS3.3 C.17.3"),
)

#: IOD key -> rows checked for that IOD only.
BY_IOD: dict[str, tuple[EnumRow, ...]] = {
    "ct-image": (
        *_IMAGE_TYPE_12,
        _row(0x00280002, "SamplesPerPixel", 0, "1", "PS3.3 C.8.2.1.1.2"),
        _row(0x00280004, "PhotometricInterpretation", 0, _MONO, "PS3.3 C.8.2.1.1.2"),
        _row(0x00280100, "BitsAllocated", 0, "16", "PS3.3 C.8.2.1.1.4"),
    ),
    "mr-image": (
        *_IMAGE_TYPE_12,
        _row(0x00280002, "SamplesPerPixel", 0, "1", "PS3.3 C.8.3.1.1.2"),
        _row(0x00280004, "PhotometricInterpretation", 0, _MONO, "PS3.3 C.8.3.1.1.3"),
        _row(0x00280100, "BitsAllocated", 0, "16", "PS3.3 C.8.3.1.1.4"),
        _row(0x00180020, "ScanningSequence", None, "SE|IR|GR|EP|RM", "PS3.3 C.8.3.1"),
    ),
    "digital-x-ray-image": (
        _row(0x00080068, "PresentationIntentType", 0, _INTENT, "PS3.3 C.8.11.1"),
    ),
    "digital-mammography-x-ray-image": (
        _row(0x00080068, "PresentationIntentType", 0, _INTENT, "PS3.3 C.8.11.1"),
    ),
    "positron-emission-tomography-image": (
        _row(0x00541000, "SeriesType", 0, "STATIC|DYNAMIC|GATED|WHOLE BODY", "PS3.3 C.8.9.1"),
        _row(0x00541000, "SeriesType", 1, "IMAGE|REPROJECTION", "PS3.3 C.8.9.1"),
        _row(0x00541102, "DecayCorrection", 0, "NONE|START|ADMIN", "PS3.3 C.8.9.1"),
    ),
    "rt-image": (_row(0x00080060, "Modality", 0, "RTIMAGE", _RT_MODALITY),),
    "rt-dose": (
        _row(0x00080060, "Modality", 0, "RTDOSE", _RT_MODALITY),
        _row(0x30040002, "DoseUnits", 0, "GY|RELATIVE", "PS3.3 C.8.8.3"),
        _row(0x30040004, "DoseType", 0, "PHYSICAL|EFFECTIVE|ERROR", "PS3.3 C.8.8.3"),
    ),
    "rt-structure-set": (_row(0x00080060, "Modality", 0, "RTSTRUCT", _RT_MODALITY),),
    "rt-plan": (
        _row(0x00080060, "Modality", 0, "RTPLAN", _RT_MODALITY),
        _row(0x300A000C, "RTPlanGeometry", 0, "PATIENT|TREATMENT_DEVICE", "PS3.3 C.8.8.9"),
    ),
    "basic-text-sr": _SR,
    "enhanced-sr": _SR,
    "comprehensive-sr": _SR,
    "comprehensive-3d-sr": _SR,
    "extensible-sr": _SR,
    "enhanced-ct-image": (
        _row(0x00080060, "Modality", 0, "CT", "PS3.3 C.8.15.1"),
        _row(0x00189004, "ContentQualification", 0, "PRODUCT|RESEARCH|SERVICE", "PS3.3 C.8.15.2"),
    ),
    "enhanced-mr-image": (
        _row(0x00080060, "Modality", 0, "MR", "PS3.3 C.8.13.6"),
        _row(0x00189004, "ContentQualification", 0, "PRODUCT|RESEARCH|SERVICE", "PS3.3 C.8.13.1"),
    ),
    "encapsulated-pdf": (
        _row(0x00420012, "MIMETypeOfEncapsulatedDocument", 0, "application/pdf", "PS3.3 A.45.1.4"),
    ),
    "segmentation": (
        _row(0x00080060, "Modality", 0, "SEG", "PS3.3 C.8.20.1"),
        _row(0x00620001, "SegmentationType", 0, "BINARY|FRACTIONAL|LABELMAP", "PS3.3 C.8.20.2"),
        _row(0x00280002, "SamplesPerPixel", 0, "1", "PS3.3 C.8.20.2"),
    ),
}
