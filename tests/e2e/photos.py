"""Photos with metadata for the photo-metadata tests, written byte by byte (no imaging library).

The pictures themselves come from Chromium's own encoders (a canvas, ``toBlob``), so they decode
as real photos; here they get what cameras and editors add: Exif with a GPS position and the
camera's make and model, XMP, IPTC (Photoshop), a comment, an MPF index, an ICC profile (kept),
PNG text chunks, eXIf, tIME, and data after the end of the image. A small reader lists a file's
segments or chunks, to compare the picture's bytes before and after. ``exifr_read`` asks exifr
(a maintained metadata reader, run by Node from node_modules) what it still finds.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

LATITUDE = ((13, 1), (45, 1), (2250, 100))  # 13° 45' 22.50" N: Bangkok
LONGITUDE = ((100, 1), (29, 1), (3010, 100))  # 100° 29' 30.10" E
MAKE = b"SecretPhone\x00"
MODEL = b"Model X-4711 serial 0042\x00"
AUTHOR = "Somchai Reporter"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'exif:GPSLatitude="13,45.375N" exif:GPSLongitude="100,29.501E">'
    f"<dc:creator><rdf:Seq><rdf:li>{AUTHOR}</rdf:li></rdf:Seq></dc:creator>"
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
).encode()
TRAILER = b"MotionPhoto_Data" + bytes(range(256)) * 4  # a video or maker note after the image
ICC = b"ICC_PROFILE\x00\x01\x01" + bytes(128)  # kept: the colours (a stand-in, not a profile)

ASCII, LONG, RATIONAL, BYTE = 2, 4, 5, 1


def _ifd(entries: list[tuple[int, int, int, bytes]], at: int) -> bytes:
    """A big-endian TIFF IFD written at offset ``at``, values over 4 bytes placed after it."""
    size = 2 + 12 * len(entries) + 4
    head, extra = struct.pack(">H", len(entries)), b""
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            field = value.ljust(4, b"\x00")
        else:
            field = struct.pack(">I", at + size + len(extra))
            extra += value + b"\x00" * (len(value) % 2)
        head += struct.pack(">HHI", tag, kind, count) + field
    return head + struct.pack(">I", 0) + extra


def _rationals(values: tuple[tuple[int, int], ...]) -> bytes:
    return b"".join(struct.pack(">II", n, d) for n, d in values)


def exif_tiff() -> bytes:
    """TIFF (Exif) with the camera's make and model and a GPS IFD holding a position."""

    def ifd0(gps_at: int) -> bytes:
        return _ifd(
            [
                (0x010F, ASCII, len(MAKE), MAKE),
                (0x0110, ASCII, len(MODEL), MODEL),
                (0x8825, LONG, 1, struct.pack(">I", gps_at)),
            ],
            8,
        )

    gps_at = 8 + len(ifd0(0))
    gps = _ifd(
        [
            (0x0000, BYTE, 4, bytes([2, 3, 0, 0])),
            (0x0001, ASCII, 2, b"N\x00"),
            (0x0002, RATIONAL, 3, _rationals(LATITUDE)),
            (0x0003, ASCII, 2, b"E\x00"),
            (0x0004, RATIONAL, 3, _rationals(LONGITUDE)),
        ],
        gps_at,
    )
    return b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0(gps_at) + gps


# --- JPEG ------------------------------------------------------------------------------------


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def iptc() -> bytes:
    """Photoshop's APP13 with an IPTC record naming the author (2:80 By-line)."""
    record = b"\x1c\x02\x50" + struct.pack(">H", len(AUTHOR)) + AUTHOR.encode()
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(record))
    return b"Photoshop 3.0\x00" + resource + record + b"\x00" * (len(record) % 2)


def jpeg_metadata() -> bytes:
    return b"".join(
        [
            segment(0xE1, b"Exif\x00\x00" + exif_tiff()),
            segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP),
            segment(0xE2, ICC),
            segment(0xE2, b"MPF\x00" + bytes(40)),
            segment(0xED, iptc()),
            segment(0xFE, f"taken by {AUTHOR}".encode()),
            segment(0xEB, b"JP\x00\x00private"),  # APP11 (JUMBF, e.g. C2PA): not the picture
        ]
    )


def with_jpeg_metadata(jpeg: bytes) -> bytes:
    """``jpeg`` (SOI, maybe JFIF, ...) with metadata after its JFIF segment and a trailer."""
    at = 2
    if jpeg[2:4] == b"\xff\xe0":
        at += 2 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:at] + jpeg_metadata() + jpeg[at:] + TRAILER


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, bytes) of each segment up to EOI; a scan's bytes run to the next marker."""
    assert data[:2] == b"\xff\xd8"
    out: list[tuple[int, bytes]] = [(0xD8, data[:2])]
    at = 2
    while True:
        assert data[at] == 0xFF, f"no marker at {at}"
        marker = data[at + 1]
        if marker == 0xD9:
            out.append((marker, data[at : at + 2]))
            return out
        end = at + 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker == 0xDA:
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
        out.append((marker, data[at:end]))
        at = end


def jpeg_picture(data: bytes) -> bytes:
    """Frame, tables and scans (SOS and its entropy-coded data): what a decoder shows."""
    picture = {0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD, 0xDA}
    return b"".join(body for marker, body in jpeg_segments(data) if marker in picture)


def jpeg_scans(data: bytes) -> bytes:
    return b"".join(body for marker, body in jpeg_segments(data) if marker == 0xDA)


# --- PNG -------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_metadata() -> bytes:
    return b"".join(
        [
            chunk(b"pHYs", struct.pack(">IIB", 3780, 3780, 1)),  # kept: the pixels' aspect
            chunk(b"tEXt", b"Author\x00" + AUTHOR.encode()),
            chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"GPS 13.756, 100.491")),
            chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP),
            chunk(b"eXIf", exif_tiff()),
            chunk(b"tIME", struct.pack(">HBBBBB", 2026, 12, 3, 9, 41, 7)),
            chunk(b"prVt", b"a private chunk"),
        ]
    )


def with_png_metadata(png: bytes) -> bytes:
    """``png`` with metadata chunks after IHDR, and a trailer after IEND."""
    assert png[:8] == PNG_SIGNATURE
    assert png[12:16] == b"IHDR"
    at = 8 + 12 + 13
    return png[:at] + png_metadata() + png[at:] + TRAILER


def png_chunks(data: bytes) -> list[tuple[str, bytes]]:
    """(type, whole chunk) of each chunk up to IEND."""
    assert data[:8] == PNG_SIGNATURE
    out: list[tuple[str, bytes]] = []
    at = 8
    while True:
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8].decode("ascii")
        out.append((kind, data[at : at + 12 + length]))
        if kind == "IEND":
            return out
        at += 12 + length


def png_image_data(data: bytes) -> bytes:
    return b"".join(body for kind, body in png_chunks(data) if kind == "IDAT")


# --- exifr: what a metadata reader still finds -----------------------------------------------

_EXIFR = ROOT / "node_modules" / "exifr" / "dist" / "full.umd.cjs"
_READ = """
const exifr = require(process.argv[1]);
const fs = require('fs');
(async () => {
  const out = [];
  for (const path of process.argv.slice(2)) {
    const buf = fs.readFileSync(path);
    const options = { tiff: true, xmp: true, iptc: true, icc: false, jfif: false, ihdr: false,
      mergeOutput: false, translateValues: false, reviveValues: false };
    const gps = (await exifr.gps(buf)) ?? null;
    out.push({ gps, all: (await exifr.parse(buf, options)) ?? null });
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { process.stderr.write(String(e?.stack || e)); process.exit(1); });
"""


def exifr_available() -> bool:
    return _EXIFR.is_file() and shutil.which("node") is not None


def exifr_read(*paths: Path) -> list[dict[str, Any]]:
    """What exifr finds in each file: {gps: {latitude, longitude} | None, all: {...} | None}."""
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, "-e", _READ, str(_EXIFR), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found
