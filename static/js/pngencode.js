/* A PNG encoder for the pad's picture (PNG spec, W3C 2003): 8-bit grayscale when every pixel is
   an opaque gray (the pad's ink and paper always are), else 8-bit RGBA; rows unfiltered, zlib by
   the browser's CompressionStream. The server decodes either to the same RGBA pixels as the
   canvas's own toDataURL PNG (tests/browser/test_live_bytes.py), at a sixth of its size. Pure. */

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const GRAY = 0;
const RGBA = 6;

let crcTable = null;

function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One chunk: length, type, data, CRC of type and data. */
function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** True when every pixel of RGBA `px` has R = G = B and full alpha. */
export function isOpaqueGray(px) {
  for (let i = 0; i < px.length; i += 4) {
    if (px[i + 3] !== 255 || px[i] !== px[i + 1] || px[i] !== px[i + 2]) return false;
  }
  return true;
}

/** Scanlines with their filter byte (0: none), one or four bytes a pixel. */
function scanlines(px, width, height, gray) {
  const channels = gray ? 1 : 4;
  const stride = width * channels + 1;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const row = y * stride + 1;
    if (gray) {
      for (let x = 0; x < width; x++) out[row + x] = px[(y * width + x) * 4];
    } else {
      out.set(px.subarray(y * width * 4, (y + 1) * width * 4), row);
    }
  }
  return out;
}

async function zlib(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** RGBA pixels (Uint8ClampedArray, width × height × 4, as getImageData gives) → PNG bytes. */
export async function encodePng(px, width, height) {
  const gray = isOpaqueGray(px);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, gray ? GRAY : RGBA, 0, 0, 0], 8);
  const parts = [new Uint8Array(SIGNATURE), chunk("IHDR", header),
    chunk("IDAT", await zlib(scanlines(px, width, height, gray))), chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes → "data:image/png;base64,…". */
export function pngDataUrl(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:image/png;base64,${btoa(bin)}`;
}
