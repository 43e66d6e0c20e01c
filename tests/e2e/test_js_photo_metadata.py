"""The browser's photo metadata removal (api/web/static/js/photo-metadata.js), in Chromium.

Real photos from Chromium's own JPEG and PNG encoders, given what cameras and editors add
(tests/e2e/photos.py): what the module keeps is the original picture byte for byte, with its
colour segment, and nothing a reader (exifr) recognises as metadata; the decoded pixels are the
same. Scans with restart markers, stuffed bytes, fill bytes and segments between scans keep
every byte of their data. A malformed photo raises PhotoMetadataError; other files, whatever
their name, are not touched.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import photos
from .conftest import ServedApp, phone_tab

pytestmark = pytest.mark.e2e

PRELUDE = """
const M = await import('/web/js/photo-metadata.js');
const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const pixels = async (bytes, type) => {
  const bitmap = await createImageBitmap(new Blob([bytes], { type }));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d');
  context.drawImage(bitmap, 0, 0);
  const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  return b64(new Uint8Array(await crypto.subtle.digest('SHA-256', data)));
};
"""

DRAW = """
const canvas = new OffscreenCanvas(96, 64);
const g = canvas.getContext('2d');
const gradient = g.createLinearGradient(0, 0, 96, 64);
gradient.addColorStop(0, '#c0392b');
gradient.addColorStop(1, '#2471a3');
g.fillStyle = gradient;
g.fillRect(0, 0, 96, 64);
g.fillStyle = '#f4d03f';
g.fillRect(20, 12, 30, 30);
const blob = await canvas.convertToBlob({ type: arg, quality: 0.92 });
return b64(new Uint8Array(await blob.arrayBuffer()));
"""


@pytest.fixture(scope="module")
def page(browser: Any, pages_only: ServedApp) -> Iterator[Any]:
    with phone_tab(browser, pages_only.url + "/status") as tab:
        yield tab


def js(page: Any, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


def made(page: Any, kind: str) -> bytes:
    """A picture from Chromium's encoder for ``kind`` ('image/jpeg' or 'image/png')."""
    return base64.b64decode(js(page, DRAW, kind))


def stripped(page: Any, data: bytes) -> tuple[str | None, bytes, list[str]]:
    """(kind, bytes, removed) from withoutMetadata."""
    out = js(
        page,
        "const r = M.withoutMetadata(unb64(arg)); return [r.kind, b64(r.bytes), r.removed];",
        base64.b64encode(data).decode(),
    )
    return out[0], base64.b64decode(out[1]), out[2]


def refusal(page: Any, data: bytes) -> str:
    """The PhotoMetadataError's message for ``data``, through the page's File path."""
    return str(
        js(
            page,
            """try { await M.removePhotoMetadata(new Blob([unb64(arg)])); return 'accepted'; }
               catch (e) {
                 return e instanceof M.PhotoMetadataError ? e.message : `other: ${e}`;
               }""",
            base64.b64encode(data).decode(),
        )
    )


def same_pixels(page: Any, a: bytes, b: bytes, kind: str) -> bool:
    one, two = js(
        page,
        "return [await pixels(unb64(arg[0]), arg[2]), await pixels(unb64(arg[1]), arg[2])];",
        [base64.b64encode(a).decode(), base64.b64encode(b).decode(), kind],
    )
    return bool(one == two)


def test_a_jpeg_keeps_its_picture_and_colour_and_loses_everything_else(
    page: Any, tmp_path: Path
) -> None:
    original = made(page, "image/jpeg")
    tagged = photos.with_jpeg_metadata(original)
    kind, clean, removed = stripped(page, tagged)
    assert kind == "jpeg"
    assert removed == ["Exif", "XMP", "MPF", "IPTC", "comment", "APP11", "trailer"]
    # The original, byte for byte, with only the ICC profile (colour) added back in its place.
    at = 2 + (2 + struct.unpack(">H", original[4:6])[0] if original[2:4] == b"\xff\xe0" else 0)
    assert clean == original[:at] + photos.segment(0xE2, photos.ICC) + original[at:]
    assert photos.jpeg_scans(clean) == photos.jpeg_scans(tagged) == photos.jpeg_scans(original)
    assert photos.jpeg_picture(clean) == photos.jpeg_picture(original)
    assert same_pixels(page, tagged, clean, "image/jpeg")
    if photos.exifr_available():
        (tagged_path := tmp_path / "tagged.jpg").write_bytes(tagged)
        (clean_path := tmp_path / "clean.jpg").write_bytes(clean)
        before, after = photos.exifr_read(tagged_path, clean_path)
        assert before["gps"] is not None
        assert before["all"]["ifd0"]["Make"] == "SecretPhone"
        assert after == {"gps": None, "all": None}


def test_a_png_keeps_its_image_data_and_colour_chunks_and_loses_text_exif_and_time(
    page: Any, tmp_path: Path
) -> None:
    original = made(page, "image/png")
    tagged = photos.with_png_metadata(original)
    kind, clean, removed = stripped(page, tagged)
    assert kind == "png"
    assert removed == ["tEXt", "zTXt", "iTXt", "eXIf", "tIME", "prVt", "trailer"]
    phys = photos.chunk(b"pHYs", struct.pack(">IIB", 3780, 3780, 1))
    assert clean == original[:33] + phys + original[33:]
    assert photos.png_image_data(clean) == photos.png_image_data(original)
    assert [k for k, _ in photos.png_chunks(clean)] == ["IHDR", "pHYs"] + [
        k for k, _ in photos.png_chunks(original)[1:]
    ]
    assert same_pixels(page, tagged, clean, "image/png")
    if photos.exifr_available():
        (tagged_path := tmp_path / "tagged.png").write_bytes(tagged)
        (clean_path := tmp_path / "clean.png").write_bytes(clean)
        before, after = photos.exifr_read(tagged_path, clean_path)
        assert before["gps"] is not None
        assert after == {"gps": None, "all": None}


def _scan_jpeg() -> tuple[bytes, bytes]:
    """A (not decodable) JPEG whose scans hold stuffed bytes, restart markers and fill bytes,
    with an APP1 and a comment between two scans (as in progressive files), and a TEM; and the
    same without the APP1 and the comment."""
    frame = photos.segment(0xC2, b"\x08\x00\x10\x00\x10\x01\x01\x11\x00")
    tables = photos.segment(0xDB, bytes(65)) + photos.segment(0xDD, b"\x00\x04")
    scan1 = photos.segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x12\xff\x00\x34\xff\xd0\x56"
    scan2 = photos.segment(0xDA, b"\x01\x01\x00\x01\x05\x00") + b"\xff\xff\x00\x99\xff\xd7\xaa"
    exif = photos.segment(0xE1, b"Exif\x00\x00" + photos.exif_tiff())
    between = exif + photos.segment(0xFE, b"x")
    head = b"\xff\xd8\xff\x01" + tables + frame
    dht = photos.segment(0xC4, bytes(20))
    eoi = b"\xff\xff\xd9"  # a fill byte before the end marker
    return (
        head + scan1 + between + dht + scan2 + eoi,
        head + scan1 + dht + scan2 + eoi,
    )


def test_scans_keep_every_byte_across_restarts_stuffing_fill_and_segments_between(
    page: Any,
) -> None:
    tagged, expected = _scan_jpeg()
    kind, clean, removed = stripped(page, tagged)
    assert (kind, removed) == ("jpeg", ["Exif", "comment"])
    assert clean == expected


def test_a_jfif_thumbnail_and_an_unknown_adobe_segment_go_the_adobe_transform_stays(
    page: Any,
) -> None:
    jfif_thumb = photos.segment(0xE0, b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x01\x01" + bytes(3))
    jfif = photos.segment(0xE0, b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00")
    adobe = photos.segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
    other14 = photos.segment(0xEE, b"Adobe but longer than the transform segment")
    _tagged, body = _scan_jpeg()
    rest = body[2:]
    kind, clean, removed = stripped(page, b"\xff\xd8" + jfif_thumb + adobe + other14 + rest)
    assert (kind, removed) == ("jpeg", ["JFIF", "APP14"])
    assert clean == b"\xff\xd8" + adobe + rest
    kind, clean, removed = stripped(page, b"\xff\xd8" + jfif + rest)
    assert (kind, clean, removed) == ("jpeg", b"\xff\xd8" + jfif + rest, [])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("jpeg cut in its scan", "ends inside its image data"),
        ("jpeg segment past the end", "runs past the end of the file"),
        ("jpeg without a scan", "has no image data"),
        ("jpeg with garbage between segments", "no JPEG marker at byte"),
        ("jpeg without an end", "ends before its end marker"),
        ("png cut in a chunk", "runs past the end of the file"),
        ("png without IHDR first", "does not start with its IHDR chunk"),
        ("png without IEND", "ends before its IEND chunk"),
        ("png with a bad chunk type", "no PNG chunk at byte"),
    ],
)
def test_a_malformed_photo_is_refused_by_name(page: Any, case: str, message: str) -> None:
    _tagged, jpeg = _scan_jpeg()
    png = photos.PNG_SIGNATURE + photos.chunk(b"IHDR", bytes(13))
    png += photos.chunk(b"IDAT", b"\x78\x9c\x03\x00\x00\x00\x00\x01") + photos.chunk(b"IEND", b"")
    sof = jpeg.index(b"\xff\xc2")
    data = {
        "jpeg cut in its scan": jpeg[: jpeg.index(b"\x56") + 1],
        "jpeg segment past the end": jpeg[:sof] + b"\xff\xe1\x7f\xff" + jpeg[sof:],
        "jpeg without a scan": b"\xff\xd8" + photos.segment(0xC0, bytes(9)) + b"\xff\xd9",
        "jpeg with garbage between segments": jpeg[:sof] + b"\x00" + jpeg[sof:],
        "jpeg without an end": b"\xff\xd8" + photos.segment(0xDB, bytes(65)),
        "png cut in a chunk": png[:50],
        "png without IHDR first": photos.PNG_SIGNATURE + png[33:],
        "png without IEND": png[: png.index(b"IEND") - 4],
        "png with a bad chunk type": png[:33] + photos.chunk(b"t3Xt", b"x") + png[33:],
    }[case]
    assert message in refusal(page, data)


def test_other_files_are_left_alone_whatever_their_name_a_photo_is_known_by_its_bytes(
    page: Any,
) -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Author (Somchai) >> endobj\n%%EOF\n"
    out = js(
        page,
        """const one = await M.removePhotoMetadata(new File([unb64(arg[0])], 'photo.jpg',
                                                           { type: 'image/jpeg' }));
           const two = await M.removePhotoMetadata(new File([unb64(arg[1])], 'scan.pdf',
                                                           { type: 'application/pdf' }));
           const empty = await M.removePhotoMetadata(new Blob([]));
           return [one.kind, two.kind, two.removed, two.file.type,
                   b64(new Uint8Array(await two.file.arrayBuffer())), empty.kind];""",
        [
            base64.b64encode(pdf).decode(),
            base64.b64encode(_scan_jpeg()[0]).decode(),
        ],
    )
    assert out[0] is None
    assert out[5] is None
    assert out[1:4] == ["jpeg", ["Exif", "comment"], "application/pdf"]
    assert base64.b64decode(out[4]) == _scan_jpeg()[1]
