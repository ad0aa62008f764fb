/* Decoders for the API's compact arrays: base64 uint8 with a per-layer [min, max] range,
   base64 little-endian float16 and float32. Pure functions; no fetching here. */

function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const product = (shape) => shape.reduce((a, b) => a * b, 1);

/** uint8 quantised layer: value = min + q · (max − min) / 255, C order. */
export function decodeLayer(layer) {
  const { values } = decodeQuantised(layer, `layer ${layer.name}`);
  return { name: layer.name, kind: layer.kind, shape: layer.shape, min: layer.min, max: layer.max, values };
}

/** An EncodedArray {shape, min, max, encoding: "uint8", data} → {shape, min, max, values}. */
function decodeQuantised(payload, what = "array") {
  const q = base64ToBytes(payload.data);
  const n = product(payload.shape);
  if (q.length !== n) throw new Error(`${what}: ${q.length} bytes for shape ${payload.shape.join("×")}`);
  const step = (payload.max - payload.min) / 255;
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = payload.min + q[i] * step;
  return { shape: payload.shape, min: payload.min, max: payload.max, values };
}

/** A ByteArray {shape, encoding: "uint8", data} (raw bytes, no scaling) → {shape, values}. */
function decodeBytes(payload) {
  const values = base64ToBytes(payload.data);
  const n = product(payload.shape);
  if (values.length !== n) throw new Error(`byte array: ${values.length} bytes for shape ${payload.shape.join("×")}`);
  return { shape: payload.shape, values };
}

let halfTable = null;

function float16Table() {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    let v;
    if (exp === 0) v = frac * 2 ** -24;
    else if (exp === 31) v = frac ? NaN : Infinity;
    else v = (1 + frac / 1024) * 2 ** (exp - 15);
    halfTable[h] = sign * v;
  }
  return halfTable;
}

/** {shape, data: base64 little-endian float16} → {shape, values: Float32Array}. */
export function decodeFloat16(payload) {
  const bytes = base64ToBytes(payload.data);
  const n = product(payload.shape);
  if (bytes.length !== n * 2) throw new Error(`float16 array: ${bytes.length} bytes for ${n} values`);
  const table = float16Table();
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  return { shape: payload.shape, values };
}

/** {shape, data: base64 little-endian float32} → {shape, values: Float32Array}. */
function decodeFloat32(payload) {
  const bytes = base64ToBytes(payload.data);
  const n = product(payload.shape);
  if (bytes.length !== n * 4) throw new Error(`float32 array: ${bytes.length} bytes for ${n} values`);
  const view = new DataView(bytes.buffer);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = view.getFloat32(4 * i, true);
  return { shape: payload.shape, values };
}

/** A gallery sample (784 bytes, ink = 255) → Float32Array in [0, 1]. */
export function decodeSample(sample) {
  const bytes = base64ToBytes(sample.data);
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 255;
  return out;
}

/** A weights payload in whichever encoding the server chose. */
export function decodeArray(payload) {
  if (payload.encoding === "float16") return decodeFloat16(payload);
  if (payload.encoding === "float32") return decodeFloat32(payload);
  throw new Error(`unknown encoding ${payload.encoding}`);
}

/** An answer with uint8 arrays anywhere among its object fields, decoded in place of them. */
export function decodeTree(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    if (value.encoding === "uint8" && typeof value.data === "string") {
      return "min" in value ? decodeQuantised(value) : decodeBytes(value);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeTree(v)]));
  }
  return value;
}

/** A data map (GET /api/models/{name}/map) → {points: Float32Array (x, y pairs), labels:
    Uint8Array, indices: Int32Array}. */
export function decodeMap(answer) {
  const points = decodeFloat16({ shape: [answer.count * 2], data: answer.points }).values;
  const labels = base64ToBytes(answer.labels);
  const raw = base64ToBytes(answer.indices);
  const indices = new Int32Array(raw.buffer, raw.byteOffset, answer.count);
  return { points, labels, indices };
}
