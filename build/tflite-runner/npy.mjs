// NumPy .npy files (format 1.0 to 3.0 in, 1.0 out; C order, little-endian), as the tests write and read them.

/** numpy `descr` (without the byte-order mark) for each dtype name the runner uses. */
const DESCR_OF = {
  float32: 'f4', float16: 'f2', float64: 'f8', int8: 'i1', uint8: 'u1', int16: 'i2', uint16: 'u2',
  int32: 'i4', uint32: 'u4', int64: 'i8', uint64: 'u8', bool: 'b1',
};
const DTYPE_OF = Object.fromEntries(Object.entries(DESCR_OF).map(([dtype, descr]) => [descr, dtype]));
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** A .npy file that cannot be used as it is. */
export class NpyError extends Error {}

export function bytesPerElement(dtype) {
  const descr = DESCR_OF[dtype];
  return descr ? Number(descr.slice(1)) : null;
}

function headerField(header, key) {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*`).exec(header);
  if (!m) throw new NpyError(`header has no '${key}'`);
  return header.slice(m.index + m[0].length);
}

/** Parses a .npy file: { dtype, shape, data } where data is a Uint8Array view of the element bytes. */
export function readNpy(bytes) {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError('not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6];
  let headerLength;
  let headerStart;
  if (major === 1) { headerLength = bytes[8] | (bytes[9] << 8); headerStart = 10; }
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError('truncated header');
    headerLength = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 0x1000000;
    headerStart = 12;
  } else throw new NpyError(`format version ${major}.${bytes[7]} is not supported (1.0 to 3.0 are)`);
  if (headerStart + headerLength > bytes.length) throw new NpyError('truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));

  const descrText = /^['"]([^'"]*)['"]/.exec(headerField(header, 'descr'));
  if (!descrText) throw new NpyError("header's 'descr' is not a simple type string");
  let descr = descrText[1];
  if (descr[0] === '>' && !descr.endsWith('1')) throw new NpyError(`big-endian data ('${descr}') is not supported`);
  if ('<>|='.includes(descr[0])) descr = descr.slice(1);
  const dtype = DTYPE_OF[descr];
  if (!dtype) throw new NpyError(`element type '${descrText[1]}' is not supported`);

  if (/^True/.test(headerField(header, 'fortran_order'))) throw new NpyError('Fortran-order data is not supported (save it in C order)');
  const shapeText = /^\(([^)]*)\)/.exec(headerField(header, 'shape'));
  if (!shapeText) throw new NpyError("header's 'shape' is not a tuple");
  const shape = shapeText[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+L?$/.test(s)) throw new NpyError(`shape entry '${s}' is not a size`);
    return Number.parseInt(s, 10);
  });

  const dataStart = headerStart + headerLength;
  const expected = shape.reduce((a, b) => a * b, 1) * bytesPerElement(dtype);
  const actual = bytes.length - dataStart;
  if (actual !== expected) throw new NpyError(`holds ${actual} data bytes; shape (${shape.join(', ')}) of ${dtype} needs ${expected}`);
  return { dtype, shape, data: bytes.subarray(dataStart) };
}

/** A .npy file (format 1.0) laid out as numpy.save writes it: header padded with spaces to a multiple of 64 bytes. */
export function writeNpy(dtype, shape, data) {
  const descr = DESCR_OF[dtype];
  if (!descr) throw new NpyError(`element type ${dtype} cannot be written as .npy`);
  const order = descr.endsWith('1') ? '|' : '<';
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${order}${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
