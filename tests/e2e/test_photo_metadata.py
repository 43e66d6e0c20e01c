"""Photos lose their metadata on the reporter's device before sealing (issue 13 part 4).

A reporter attaches a JPEG and a PNG carrying a GPS position, the camera's make and model, an
author, XMP, IPTC, text chunks and a trailer (tests/e2e/photos.py), a malformed JPEG and a PDF,
on the submit page of the real service. The page says, near the file picker, what is removed
and that other files are sent as they are; the list says "metadata removed" for each photo and
warns, plainly, about the one whose metadata could not be removed. A member of the intake desk
opens the sealed attachments on their own machine (`tipledger review show --attachments`): the
photos hold no metadata a reader finds (exifr, and the segments and chunks themselves) and the
same compressed picture, byte for byte (JPEG scans, PNG IDAT); the malformed JPEG and the PDF
are exactly as attached.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.ops.devnet import INTAKE_MEMBER_KEY, INTAKE_MEMBER_PASSPHRASE

from . import photos
from .conftest import ROOT, Recorder, Services, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

DRAW = """async (kind) => {
  const canvas = new OffscreenCanvas(160, 120);
  const g = canvas.getContext('2d');
  g.fillStyle = '#1e8449';
  g.fillRect(0, 0, 160, 120);
  g.fillStyle = '#f5b041';
  g.beginPath();
  g.arc(80, 60, 40, 0, 2 * Math.PI);
  g.fill();
  const blob = await canvas.convertToBlob({ type: kind, quality: 0.9 });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  return btoa(String.fromCharCode(...bytes));
}"""
PDF = (
    b"%PDF-1.4\n1 0 obj << /Title (evidence) /Author (Somchai Reporter) >> endobj\n"
    b"trailer << /Info 1 0 R >>\n%%EOF\n"
)


def _review(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    """`tipledger review …` as the intake desk's member, on their own machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLEDGER_")}
    passphrase = (services.home / INTAKE_MEMBER_PASSPHRASE).read_text().strip()
    env.update(
        TIPLEDGER_HOME=str(services.home), TIPLEDGER_MEMBER_PASSPHRASE=passphrase, NO_COLOR="1"
    )
    command = [sys.executable, "-m", "ledger.cli", "review", *args]
    command += ["--key-file", str(services.home / INTAKE_MEMBER_KEY), "--api", services.url]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_photos_are_sealed_without_their_metadata_and_other_files_as_they_are(
    tab: tuple[Any, Recorder], services: Services, tmp_path: Path, artifacts: Path
) -> None:
    page, recorder = tab
    open_page(page, services.url + "/")
    notice = page.inner_text("#tip-files-photos")
    assert "JPEG และ PNG" in notice
    assert "GPS" in notice
    assert "PDF" in notice
    assert "tip-files-photos" in (page.get_attribute("#tip-files-button", "aria-describedby") or "")

    jpeg = base64.b64decode(page.evaluate(DRAW, "image/jpeg"))
    png = base64.b64decode(page.evaluate(DRAW, "image/png"))
    tagged_jpeg = photos.with_jpeg_metadata(jpeg)
    tagged_png = photos.with_png_metadata(png)
    broken = tagged_jpeg[: len(tagged_jpeg) // 2]  # cut inside its scan
    files = {
        "IMG_4711.jpg": tagged_jpeg,
        "screen.png": tagged_png,
        "broken.jpg": broken,
        "report.pdf": PDF,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    page.fill("#tip-text", "ภาพถ่ายหลักฐาน marker-" + os.urandom(4).hex())
    page.set_input_files("#tip-files", [str(tmp_path / name) for name in files])
    page.wait_for_function(
        "() => document.querySelectorAll('#file-list .mono').length === 4", timeout=20_000
    )
    rows = page.locator("#file-list li")
    assert "ลบข้อมูลแฝงในภาพแล้ว" in rows.nth(0).inner_text()
    assert "ลบข้อมูลแฝงในภาพแล้ว" in rows.nth(1).inner_text()
    warning = rows.nth(2).locator(".photo-kept").inner_text()
    assert "ไม่สามารถลบข้อมูลแฝงในภาพนี้ได้" in warning
    assert "ส่งไปตามเดิม" in warning
    assert rows.nth(2).locator("button").is_visible()  # the reporter may take it out
    assert "ข้อมูลแฝง" not in rows.nth(3).inner_text()
    page.locator(".field:has(#file-list)").screenshot(path=artifacts / "photo-metadata-files.png")

    page.click("#submit-button")
    page.wait_for_url("**/receipt*", timeout=30_000)
    page.wait_for_selector("body[data-ready=true]")
    commitment = page.inner_text("#commitment").strip()

    out_dir = tmp_path / "opened"
    shown = _review(services, "show", commitment, "--attachments", str(out_dir), "--json")
    assert shown.returncode == 0, shown.stderr
    opened = {p.name.split("-", 1)[1]: p for p in out_dir.iterdir()}
    assert sorted(opened) == sorted(files)
    got = {name: path.read_bytes() for name, path in opened.items()}

    # The compressed pictures are the very bytes attached; no metadata segment or chunk is left.
    assert photos.jpeg_scans(got["IMG_4711.jpg"]) == photos.jpeg_scans(jpeg)
    assert photos.jpeg_picture(got["IMG_4711.jpg"]) == photos.jpeg_picture(jpeg)
    markers = {marker for marker, _ in photos.jpeg_segments(got["IMG_4711.jpg"])}
    assert markers.isdisjoint({0xE1, 0xEB, 0xED, 0xFE})
    assert not got["IMG_4711.jpg"].endswith(photos.TRAILER)
    assert photos.png_image_data(got["screen.png"]) == photos.png_image_data(png)
    kinds = {kind for kind, _ in photos.png_chunks(got["screen.png"])}
    assert kinds.isdisjoint({"tEXt", "zTXt", "iTXt", "eXIf", "tIME", "prVt"})
    assert not got["screen.png"].endswith(photos.TRAILER)
    for data in (got["IMG_4711.jpg"], got["screen.png"]):
        for secret in (b"SecretPhone", photos.AUTHOR.encode(), b"GPS", b"http://ns.adobe.com"):
            assert secret not in data
    # Not a photo, or not one that parses: exactly as attached.
    assert got["broken.jpg"] == broken
    assert got["report.pdf"] == PDF

    if photos.exifr_available():
        found = photos.exifr_read(opened["IMG_4711.jpg"], opened["screen.png"])
        assert found == [{"gps": None, "all": None}, {"gps": None, "all": None}]
        (attached := tmp_path / "attached.jpg").write_bytes(tagged_jpeg)
        assert photos.exifr_read(attached)[0]["gps"] is not None  # the fixture did hold GPS

    text = json.loads(shown.stdout)["text"]
    assert text.startswith("ภาพถ่ายหลักฐาน")
    assert recorder.problems == []
