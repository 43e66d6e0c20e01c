"""Photo metadata removal on the reporter's device, timed in headless Chromium
(api/web/static/js/photo-metadata.js).

    .venv/bin/python scripts/bench_photo_metadata.py [--runs 5] [--width 4000] [--height 3000]

It serves only the reporter pages (as scripts/bench_seal_browser.py), makes a photo-sized JPEG
and PNG of noise in the page (Chromium's own encoders, so the compressed data is large), adds a
64 KB Exif segment or chunk at the front, and prints the median over ``--runs`` of
``removePhotoMetadata`` (read the file whole, parse it, make the Blob of kept slices) plus
reading that Blob back (what hashing it will cost on top is in bench_seal_browser.py). Figures
only: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_seal_browser import CHROMIUM, CHROMIUM_ARGS, PagesServer  # noqa: E402

MAKE = """async ({ kind, width, height }) => {
  const canvas = new OffscreenCanvas(width, height);
  const g = canvas.getContext('2d');
  const image = g.createImageData(width, height);
  for (let at = 0; at < image.data.length; at += 65536) {
    crypto.getRandomValues(image.data.subarray(at, Math.min(at + 65536, image.data.length)));
  }
  for (let at = 3; at < image.data.length; at += 4) image.data[at] = 255;
  g.putImageData(image, 0, 0);
  const blob = await canvas.convertToBlob({ type: kind, quality: 0.92 });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  // 64 KB of Exif right after the signature (JPEG APP1, PNG eXIf after IHDR).
  const exif = new Uint8Array(65000);
  let tagged;
  if (kind === 'image/jpeg') {
    const app1 = new Uint8Array(4 + 6 + exif.length);
    app1.set([0xff, 0xe1, (app1.length - 2) >> 8, (app1.length - 2) & 0xff]);
    app1.set([0x45, 0x78, 0x69, 0x66, 0, 0], 4);
    tagged = new Blob([bytes.subarray(0, 2), app1, bytes.subarray(2)], { type: kind });
  } else {
    const head = new Uint8Array(8);
    new DataView(head.buffer).setUint32(0, exif.length);
    head.set([0x65, 0x58, 0x49, 0x66], 4);
    tagged = new Blob([bytes.subarray(0, 33), head, exif, new Uint8Array(4), bytes.subarray(33)],
                      { type: kind });
  }
  window.benchPhoto = tagged;
  return tagged.size;
}"""

RUN = """async () => {
  const M = await import('/web/js/photo-metadata.js');
  const t0 = performance.now();
  const out = await M.removePhotoMetadata(window.benchPhoto);
  const t1 = performance.now();
  const size = (await out.file.arrayBuffer()).byteLength;
  const t2 = performance.now();
  return { strip: t1 - t0, read: t2 - t1, size, removed: out.removed };
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    args = parser.parse_args()
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        print(f"no Chromium at {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with PagesServer() as served, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(served.url + "/status")
            page.wait_for_selector("body[data-ready=true]")
            print(f"Chromium {browser.version}, {platform.machine()}, {os.cpu_count()} CPUs")
            for kind in ("image/jpeg", "image/png"):
                size = page.evaluate(
                    MAKE, {"kind": kind, "width": args.width, "height": args.height}
                )
                runs = [page.evaluate(RUN) for _ in range(args.runs)]
                strip = statistics.median(r["strip"] for r in runs)
                read = statistics.median(r["read"] for r in runs)
                print(
                    f"{kind} {args.width}x{args.height}, {size / 1e6:.1f} MB: metadata removed "
                    f"in {strip:.0f} ms, the result read back in {read:.0f} ms (median of "
                    f"{args.runs}); {runs[0]['size']:,} B kept, removed {runs[0]['removed']}"
                )
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
