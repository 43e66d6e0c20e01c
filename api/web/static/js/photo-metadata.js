// Photo metadata removed on the reporter's device before a photo is hashed and sealed: where it
// was taken (GPS), when, the camera or phone, the owner's name, an embedded preview. JPEG and
// PNG, known by their first bytes, never by file name or type.
//
// Lossless by construction: the file is cut into its segments (JPEG) or chunks (PNG) and only
// whole ones are dropped; every byte kept is the original's, in the original order, so the
// compressed picture (JPEG scans, PNG IDAT) is byte for byte the same. Nothing is decoded or
// re-encoded: a canvas re-encode would change the evidence. Kept is what a decoder needs to
// show the picture as taken (frame, tables, scans; colour: ICC profile, Adobe transform, PNG
// colour chunks); everything else goes, whatever it is called (an allowlist, not a denylist),
// and so does anything after the end of the image (motion-photo videos, maker trailers).
//
// A file that does not parse as its format says raises PhotoMetadataError: the page then sends
// it as it is and says its metadata could not be removed. No library fitted (issue 13 part 4:
// the ones found re-encode, are Node-only streams, handle one format or only Exif).

export const MAX_PHOTO_BYTES = 256 * 1024 * 1024; // read whole into memory: above, not attempted

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

// PNG ancillary chunks a viewer needs to show the picture as taken (colour, transparency, pixel
// aspect, APNG frames). Critical chunks (IHDR, PLTE, IDAT, IEND, ...) are always kept.
const PNG_KEPT = new Set([
  'tRNS', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'sBIT', 'cICP', 'mDCv', 'cLLi', 'bKGD', 'pHYs',
  'sPLT', 'hIST', 'acTL', 'fcTL', 'fdAT',
]);

export class PhotoMetadataError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PhotoMetadataError';
  }
}

/** 'jpeg', 'png' or null, from a file's first bytes. */
export function photoKind(head) {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 8 && PNG_SIGNATURE.every((b, i) => head[i] === b)) return 'png';
  return null;
}

const ascii = (bytes, start, end) => String.fromCharCode(...bytes.subarray(start, end));
// Whether the segment's bytes from `at` to `end` start with `text` (never read past `end`).
const startsWith = (bytes, at, end, text) =>
  at + text.length <= end && ascii(bytes, at, at + text.length) === text;

/** What a JPEG APPn or COM segment at `at` (its marker's 0xFF) is: a name, and whether kept. */
function jpegSegment(bytes, at, marker, length) {
  const body = at + 4;
  const end = at + 2 + length;
  const is = (text) => startsWith(bytes, body, end, text);
  if (marker === 0xfe) return { name: 'comment', kept: false };
  const app = marker - 0xe0;
  // JFIF without a thumbnail (its fixed 16-byte form): density and version only.
  if (app === 0 && is('JFIF\0')) return { name: 'JFIF', kept: length === 16 };
  if (app === 1 && is('Exif\0')) return { name: 'Exif', kept: false };
  if (app === 1 && is('http://ns.adobe.com/')) return { name: 'XMP', kept: false };
  if (app === 2 && is('ICC_PROFILE\0')) return { name: 'ICC_PROFILE', kept: true };
  if (app === 2 && is('MPF\0')) return { name: 'MPF', kept: false };
  if (app === 13 && is('Photoshop 3.0\0')) return { name: 'IPTC', kept: false };
  // Adobe's colour transform (12 bytes): without it CMYK and YCCK pictures decode wrong.
  if (app === 14 && is('Adobe') && length === 14) {
    return { name: 'Adobe', kept: true };
  }
  return { name: `APP${app}`, kept: false };
}

/** The end of the entropy-coded data that starts at `at`: the offset of the next marker. */
function scanEnd(bytes, at) {
  for (let i = bytes.indexOf(0xff, at); i !== -1; i = bytes.indexOf(0xff, i + 1)) {
    const next = bytes[i + 1];
    if (next === undefined) break;
    // 0xFF00 is a stuffed 0xFF, 0xFFD0-D7 a restart marker, 0xFFFF a fill byte: all scan data.
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) continue;
    return i;
  }
  throw new PhotoMetadataError('the JPEG ends inside its image data');
}

/**
 * A JPEG's parts: {keep: [[start, end], ...] (byte ranges, in order), removed: [name, ...]}.
 * Raises PhotoMetadataError if it is not a well-formed JPEG (SOI, frame, scans, EOI).
 */
export function jpegParts(bytes) {
  if (photoKind(bytes) !== 'jpeg') throw new PhotoMetadataError('not a JPEG');
  const keep = [[0, 2]];
  const removed = [];
  let frame = false;
  let scan = false;
  let at = 2;
  for (;;) {
    if (at >= bytes.length) throw new PhotoMetadataError('the JPEG ends before its end marker');
    if (bytes[at] !== 0xff) throw new PhotoMetadataError(`no JPEG marker at byte ${at}`);
    let m = at;
    while (bytes[m + 1] === 0xff) m += 1; // fill bytes before a marker
    const marker = bytes[m + 1];
    if (marker === undefined) throw new PhotoMetadataError('the JPEG ends before its end marker');
    if (marker === 0xd9) {
      if (!frame || !scan) throw new PhotoMetadataError('the JPEG has no image data');
      keep.push([at, m + 2]);
      if (m + 2 < bytes.length) removed.push('trailer');
      return { keep: merged(keep), removed };
    }
    if (marker === 0x00 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) {
      throw new PhotoMetadataError(`unexpected JPEG marker 0xFF${hex2(marker)} at byte ${m}`);
    }
    if (marker === 0x01) { // TEM: no length
      keep.push([at, m + 2]);
      at = m + 2;
      continue;
    }
    if (m + 4 > bytes.length) throw new PhotoMetadataError('the JPEG ends inside a segment');
    const length = (bytes[m + 2] << 8) | bytes[m + 3];
    const end = m + 2 + length;
    if (length < 2 || end > bytes.length) {
      throw new PhotoMetadataError(`a JPEG segment at byte ${m} runs past the end of the file`);
    }
    if ((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe) {
      const segment = jpegSegment(bytes, m, marker, length);
      if (segment.kept) keep.push([at, end]);
      else removed.push(segment.name);
      at = end;
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      frame = true; // SOFn (0xC4 DHT, 0xC8 JPG, 0xCC DAC are not frames)
    }
    if (marker === 0xda) {
      if (!frame) throw new PhotoMetadataError('a JPEG scan comes before its frame');
      scan = true;
      const data = scanEnd(bytes, end);
      keep.push([at, data]);
      at = data;
      continue;
    }
    // Tables, frames, restart interval, DNL, hierarchical and extension segments: the picture.
    keep.push([at, end]);
    at = end;
  }
}

const u32 = (bytes, at) =>
  ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
const isLetter = (b) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);

/**
 * A PNG's parts, as jpegParts. Critical chunks and PNG_KEPT are kept, every other ancillary
 * chunk removed (tEXt, zTXt, iTXt with XMP, eXIf, tIME, private ones). CRCs are not checked:
 * the chunks' lengths alone say where each one is, and kept chunks are kept as they are.
 */
export function pngParts(bytes) {
  if (photoKind(bytes) !== 'png') throw new PhotoMetadataError('not a PNG');
  const keep = [[0, 8]];
  const removed = [];
  let data = false;
  for (let at = 8; ; ) {
    if (at + 12 > bytes.length) throw new PhotoMetadataError('the PNG ends before its IEND chunk');
    const length = u32(bytes, at);
    const typeBytes = bytes.subarray(at + 4, at + 8);
    if (length > 0x7fffffff || !typeBytes.every(isLetter)) {
      throw new PhotoMetadataError(`no PNG chunk at byte ${at}`);
    }
    const type = ascii(bytes, at + 4, at + 8);
    const end = at + 12 + length;
    if (end > bytes.length) throw new PhotoMetadataError(`the PNG chunk ${type} runs past the end of the file`);
    if (at === 8 && (type !== 'IHDR' || length !== 13)) {
      throw new PhotoMetadataError('the PNG does not start with its IHDR chunk');
    }
    if (type === 'IDAT') data = true;
    const critical = (typeBytes[0] & 0x20) === 0;
    if (critical || PNG_KEPT.has(type)) keep.push([at, end]);
    else removed.push(type);
    if (type === 'IEND') {
      if (!data) throw new PhotoMetadataError('the PNG has no image data');
      if (end < bytes.length) removed.push('trailer');
      return { keep: merged(keep), removed };
    }
    at = end;
  }
}

function merged(ranges) {
  const out = [];
  for (const [start, end] of ranges) {
    const last = out[out.length - 1];
    if (last && last[1] === start) last[1] = end;
    else out.push([start, end]);
  }
  return out;
}

const hex2 = (b) => b.toString(16).toUpperCase().padStart(2, '0');

/** `bytes` without their metadata: {kind, bytes, removed}, or {kind: null} for other files. */
export function withoutMetadata(bytes) {
  const kind = photoKind(bytes);
  if (kind === null) return { kind, bytes, removed: [] };
  const { keep, removed } = kind === 'jpeg' ? jpegParts(bytes) : pngParts(bytes);
  const out = new Uint8Array(keep.reduce((n, [s, e]) => n + e - s, 0));
  let at = 0;
  for (const [s, e] of keep) {
    out.set(bytes.subarray(s, e), at);
    at += e - s;
  }
  return { kind, bytes: out, removed };
}

/**
 * A File or Blob without its photo metadata: {kind: null} when it is not a JPEG or PNG, else
 * {kind, file (a Blob of the original's kept byte ranges, same type), removed}. Raises
 * PhotoMetadataError for a malformed or too large photo; the original is then unchanged.
 */
export async function removePhotoMetadata(file) {
  const kind = photoKind(new Uint8Array(await file.slice(0, 8).arrayBuffer()));
  if (kind === null) return { kind };
  if (file.size > MAX_PHOTO_BYTES) throw new PhotoMetadataError('the photo is too large to read here');
  const bytes = new Uint8Array(await file.arrayBuffer());
  const { keep, removed } = kind === 'jpeg' ? jpegParts(bytes) : pngParts(bytes);
  // Slices of the original: no second copy of the photo in memory.
  const parts = keep.map(([start, end]) => file.slice(start, end));
  return { kind, file: new Blob(parts, { type: file.type }), removed };
}
