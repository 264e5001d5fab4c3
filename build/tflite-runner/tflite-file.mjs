// A read-only decoder of the .tflite FlatBuffer (TFLite schema.fbs, file identifier "TFL3"): tensors, quantization,
// operators, SignatureDefs. It reports what the file says, independently of EdgeBuild's C# writer, so `info` can be
// checked against what the writer meant to write. Field numbers are the schema's field order.

// schema.fbs `enum TensorType : byte`, in schema order (numpy-style names).
const TENSOR_TYPES = [
  'float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8',
  'float64', 'complex128', 'uint64', 'resource', 'variant', 'uint32', 'uint16', 'int4', 'bfloat16',
];

// schema.fbs `enum BuiltinOperator : int32`, in schema order: the name of code N is BUILTIN_OPERATORS[N]. It stops at
// 206 (STABLEHLO_COMPOSITE): schema versions disagree about the codes after it, which `info` names BUILTIN_<code>.
const BUILTIN_OPERATORS = `
  ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE EMBEDDING_LOOKUP FLOOR
  FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION
  LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH
  CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER
  BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE
  BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM
  ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE
  TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK
  LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL
  FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL
  REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND
  HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM
  BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS
  HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE
  ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU
  DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2
  UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC STABLEHLO_ADD STABLEHLO_DIVIDE
  STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP STABLEHLO_CONCATENATE
  STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE
  STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG
  STABLEHLO_MINIMUM STABLEHLO_NEGATE STABLEHLO_OR STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT
  STABLEHLO_SELECT STABLEHLO_SUBTRACT STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT
  STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA STABLEHLO_DOT_GENERAL
  STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE
  STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW STABLEHLO_COMPOSITE`.trim().split(/\s+/);

/** The file is not a readable TFLite model (not a FlatBuffer with "TFL3", or cut short). */
export class ModelFileError extends Error {}

/** One FlatBuffer table: fields by number through its vtable, every read bounds-checked by the DataView. */
class Table {
  constructor(view, pos) {
    this.view = view;
    this.pos = pos;
    this.vtable = pos - view.getInt32(pos, true);
    this.vtableSize = view.getUint16(this.vtable, true);
  }

  /** Absolute position of field `n`, or 0 when the table does not store it (the schema default applies). */
  at(n) {
    const slot = 4 + 2 * n;
    if (slot + 2 > this.vtableSize) return 0;
    const offset = this.view.getUint16(this.vtable + slot, true);
    return offset === 0 ? 0 : this.pos + offset;
  }

  uint8(n, fallback = 0) { const p = this.at(n); return p ? this.view.getUint8(p) : fallback; }
  int8(n, fallback = 0) { const p = this.at(n); return p ? this.view.getInt8(p) : fallback; }
  int32(n, fallback = 0) { const p = this.at(n); return p ? this.view.getInt32(p, true) : fallback; }
  uint32(n, fallback = 0) { const p = this.at(n); return p ? this.view.getUint32(p, true) : fallback; }
  uint64(n, fallback = 0) { const p = this.at(n); return p ? Number(this.view.getBigUint64(p, true)) : fallback; }
  bool(n, fallback = false) { const p = this.at(n); return p ? this.view.getUint8(p) !== 0 : fallback; }

  /** Where the object that field `n` refers to starts (tables, vectors and strings are stored by offset). */
  target(n) { const p = this.at(n); return p ? p + this.view.getUint32(p, true) : 0; }

  table(n) { const p = this.target(n); return p ? new Table(this.view, p) : null; }

  /** A vector field: its element count and where its first element is, or null when absent. */
  vector(n) {
    const p = this.target(n);
    return p ? { length: this.view.getUint32(p, true), start: p + 4 } : null;
  }

  string(n) {
    const v = this.vector(n);
    if (!v) return null;
    return new TextDecoder().decode(new Uint8Array(this.view.buffer, this.view.byteOffset + v.start, v.length));
  }

  tables(n) {
    const v = this.vector(n);
    const result = [];
    for (let i = 0; v && i < v.length; i++) {
      const p = v.start + 4 * i;
      result.push(new Table(this.view, p + this.view.getUint32(p, true)));
    }
    return result;
  }

  numbers(n, read, width) {
    const v = this.vector(n);
    const result = [];
    for (let i = 0; v && i < v.length; i++) result.push(read(v.start + width * i));
    return result;
  }

  int32s(n) { return this.numbers(n, (p) => this.view.getInt32(p, true), 4); }
  float32s(n) { return this.numbers(n, (p) => this.view.getFloat32(p, true), 4); }
  int64s(n) { return this.numbers(n, (p) => Number(this.view.getBigInt64(p, true)), 8); }
}

function readQuantization(table) {
  if (!table) return null;
  // QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details_type 4, details 5, quantized_dimension 6
  const scale = table.float32s(2);
  const zeroPoint = table.int64s(3);
  if (scale.length === 0 && zeroPoint.length === 0) return null;
  return {
    scale,
    zero_point: zeroPoint,
    quantized_dimension: table.int32(6),
    per_channel: scale.length > 1,
  };
}

function readBufferBytes(table) {
  // Buffer: data 0, offset 1, size 2 (offset/size: the data lies after the FlatBuffer, for files over 2 GB)
  const data = table.vector(0);
  if (data) return data.length;
  return table.uint64(2);
}

/**
 * Decodes a .tflite file. Returns { version, description, operatorCodes, subgraphs, signatures }; the tensors of
 * each subgraph carry index, name, dtype, shape, shape_signature (when stored), buffer, constant_bytes, is_variable
 * and quantization.
 */
export function readTfliteModel(bytes) {
  if (bytes.byteLength < 8) throw new ModelFileError(`${bytes.byteLength} bytes: too short to be a .tflite file`);
  const identifier = new TextDecoder().decode(bytes.subarray(4, 8));
  if (identifier !== 'TFL3') throw new ModelFileError(`file identifier is '${identifier.replace(/[^\x20-\x7e]/g, '?')}', not 'TFL3': not a TFLite FlatBuffer`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    const model = new Table(view, view.getUint32(0, true));
    // Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4, metadata_buffer 5, metadata 6,
    // signature_defs 7
    const bufferBytes = model.tables(4).map(readBufferBytes);
    const operatorCodes = model.tables(1).map((code) => {
      // OperatorCode: deprecated_builtin_code 0 (byte), custom_code 1, version 2 (default 1), builtin_code 3.
      // Readers take the larger of the two code fields (codes above 127 only fit the new one).
      const builtin = Math.max(code.int8(0), code.int32(3));
      const custom = code.string(1);
      const name = builtin === 32 && custom ? custom : (BUILTIN_OPERATORS[builtin] ?? `BUILTIN_${builtin}`);
      return { builtin, name, custom, version: code.int32(2, 1) };
    });
    const subgraphs = model.tables(2).map((graph) => {
      // SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4
      const tensors = graph.tables(0).map((t, index) => {
        // Tensor: shape 0, type 1, buffer 2, name 3, quantization 4, is_variable 5, sparsity 6, shape_signature 7
        const type = t.int8(1);
        const buffer = t.uint32(2);
        const tensor = {
          index,
          name: t.string(3) ?? '',
          dtype: TENSOR_TYPES[type] ?? `type_${type}`,
          shape: t.int32s(0),
          buffer,
          constant_bytes: bufferBytes[buffer] ?? 0,
          is_variable: t.bool(5),
          quantization: readQuantization(t.table(4)),
        };
        const signature = t.int32s(7);
        if (signature.length > 0) tensor.shape_signature = signature;
        return tensor;
      });
      const operators = graph.tables(3).map((op) => ({
        // Operator: opcode_index 0, inputs 1, outputs 2
        opcode: op.uint32(0),
        inputs: op.int32s(1),
        outputs: op.int32s(2),
      }));
      return { name: graph.string(4) ?? '', tensors, inputs: graph.int32s(1), outputs: graph.int32s(2), operators };
    });
    // SignatureDef: inputs 0, outputs 1, signature_key 2, (deprecated) 3, subgraph_index 4; TensorMap: name 0, tensor_index 1
    const tensorMaps = (list) => list.map((m) => ({ name: m.string(0) ?? '', tensor: m.uint32(1) }));
    const signatures = model.tables(7).map((sig) => ({
      key: sig.string(2) ?? '',
      subgraph: sig.uint32(4),
      inputs: tensorMaps(sig.tables(0)),
      outputs: tensorMaps(sig.tables(1)),
    }));
    return { version: model.uint32(0), description: model.string(3), operatorCodes, subgraphs, signatures };
  } catch (e) {
    if (e instanceof RangeError) throw new ModelFileError(`an offset points past the end of the ${bytes.byteLength}-byte file: truncated or not a TFLite FlatBuffer`);
    throw e;
  }
}
