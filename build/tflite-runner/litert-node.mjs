// Google's LiteRT (the TensorFlow Lite runtime) as npm @litertjs/core ships it, a WebAssembly build for browsers,
// run under Node.js on its CPU path (TFLite's builtin kernels with XNNPACK), single-threaded.
//
// Why it needs help under Node: @litertjs/wasm-utils starts the Emscripten glue script either with a web worker's
// importScripts() or with a <script> tag, and then reads the factory the script left on `self`. Node has neither, so
// we define `self` as the global object and an importScripts() that evaluates the glue as a function body, handing it
// the CommonJS names (require, __dirname, __filename) its Node branch uses to read the .wasm file.
// Tensor bytes go through the low-level bindings (liteRtWasm): the high-level Tensor class takes only float32,
// int32 and uint8, and the tests feed int8 and float16 too.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** litert::ElementType (litert_model_types.h) -> numpy-style dtype name. Not the .tflite TensorType numbering. */
const DTYPE_OF_ELEMENT_TYPE = [
  'none', 'float32', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8', 'float16',
  'float64', 'complex128', 'uint64', 'resource', 'variant', 'uint32', 'uint16', 'int4', 'bfloat16',
];

// The "compat" build needs only standard WebAssembly SIMD128 and no threads, so the results do not depend on the
// Node version's relaxed-SIMD support or on the machine's core count.
const GLUE_SCRIPT = 'litert_wasm_compat_internal.js';

/** The runtime rejected the model (load, compile or kernel preparation): `stage` 'load'; or failed running it: 'run'. */
export class RuntimeError extends Error {
  constructor(message, stage) { super(message); this.stage = stage; }
}

function defineBrowserGlobals() {
  if (typeof globalThis.self === 'undefined') globalThis.self = globalThis;
  globalThis.importScripts = (...urls) => {
    for (const url of urls) {
      const file = String(url).startsWith('file:') ? fileURLToPath(String(url)) : String(url);
      const source = fs.readFileSync(file, 'utf8');
      // eslint-disable-next-line no-new-func -- the glue script is meant to be evaluated as a classic script
      const evaluate = new Function('require', '__dirname', '__filename',
        `${source}\nreturn typeof ModuleFactory === 'undefined' ? undefined : ModuleFactory;`);
      const factory = evaluate(createRequire(file), path.dirname(file), file);
      if (factory) globalThis.ModuleFactory = factory;
    }
  };
}

/** Copies an Emscripten vector into an array and frees it. */
function drain(vector) {
  const items = [];
  for (let i = 0; i < vector.size(); i++) items.push(vector.get(i));
  vector.delete();
  return items;
}

/** dtype, shape and byte size of a litert::RankedTensorType; frees it. */
function describe(tensorType) {
  const elementType = tensorType.elementType().value;
  const layout = tensorType.layout();
  const shape = drain(layout.dimensions());
  layout.delete();
  const bytes = tensorType.bytes();
  tensorType.delete();
  return { dtype: DTYPE_OF_ELEMENT_TYPE[elementType] ?? `element_type_${elementType}`, shape, bytes };
}

export class LiteRt {
  /** @param log a function that receives every line LiteRT prints (its own log and Emscripten's stdout/stderr). */
  constructor(nodeModules, log) {
    this.nodeModules = nodeModules;
    this.lines = [];
    this.log = (line) => { this.lines.push(String(line)); log?.(String(line)); };
  }

  get packageDir() { return path.join(this.nodeModules, '@litertjs', 'core'); }

  /** What runs the models: name, npm package, version, and the wasm build used. */
  describeRuntime() {
    const pkg = JSON.parse(fs.readFileSync(path.join(this.packageDir, 'package.json'), 'utf8'));
    return { name: 'LiteRT.js', package: pkg.name, version: pkg.version, wasm: GLUE_SCRIPT.replace(/\.js$/, '.wasm'), threads: 1 };
  }

  async start() {
    defineBrowserGlobals();
    // wasm-utils passes `self.Module` to the factory: Emscripten prints through its print/printErr.
    globalThis.Module = { print: this.log, printErr: this.log };
    const core = await import(pathToFileURL(path.join(this.packageDir, 'dist', 'index.js')).href);
    await core.loadLiteRt(path.join(this.packageDir, 'wasm', GLUE_SCRIPT));
    this.wasm = core.getGlobalLiteRt().liteRtWasm;
    this.environment = core.getGlobalLiteRt().getDefaultEnvironment().liteRtEnvironment;
  }

  /** LiteRT reports some failures (an unresolved custom op, a kernel that cannot prepare) only as log lines. */
  errorsLoggedSince(mark) {
    return this.lines.slice(mark).flatMap((l) => l.split('\n')).map((l) => l.trim())
      .filter((l) => /^(ERROR|FATAL)\b/.test(l));
  }

  explain(error) {
    let text = error instanceof Error ? error.message : String(error);
    if (typeof error === 'number' && this.wasm.getExceptionMessage) {
      try { text = this.wasm.getExceptionMessage(error).join(': '); } catch { /* keep the number */ }
    }
    const logged = this.errorsLoggedSince(0);
    return logged.length ? `${text} (${logged[logged.length - 1]})` : text;
  }

  /**
   * Loads and compiles a model for the CPU. Returns its signatures as LiteRT sees them:
   * [{ key, inputs: [{ name, dtype, shape, bytes }], outputs: [...] }].
   */
  async compile(modelBytes) {
    const w = this.wasm;
    const mark = this.lines.length;
    // LiteRT keeps pointers into the model bytes: they stay allocated for the life of the process.
    const pointer = w._malloc(modelBytes.byteLength);
    w.HEAPU8.set(modelBytes, pointer);
    try {
      this.model = w.loadModel(this.environment, pointer, modelBytes.byteLength);
    } catch (e) {
      throw new RuntimeError(`LiteRT cannot load the model: ${this.explain(e)}`, 'load');
    }
    try {
      this.compiled = await w.compileModel(this.environment, this.model, { accelerator: 'wasm', cpuOptions: { numThreads: 1 } });
    } catch (e) {
      throw new RuntimeError(`LiteRT cannot compile the model for the CPU: ${this.explain(e)}`, 'load');
    }
    const errors = this.errorsLoggedSince(mark);
    if (errors.length) throw new RuntimeError(`LiteRT cannot prepare the model: ${errors.join('; ')}`, 'load');
    this.signatures = [];
    for (let s = 0; s < this.model.getNumSignatures(); s++) {
      const signature = this.model.getSignature(s);
      const key = signature.key();
      const inputs = drain(signature.inputNames()).map((name, i) => ({ name, ...describe(this.model.getInputTensorType(s, i)) }));
      const outputs = drain(signature.outputNames()).map((name, i) => ({ name, ...describe(this.model.getOutputTensorType(s, i)) }));
      signature.delete();
      this.signatures.push({ key, inputs, outputs });
    }
    return this.signatures;
  }

  /**
   * Runs signature `s` once. `inputs`: one Uint8Array per signature input, in order, holding exactly the input's
   * bytes, or null to feed zeros. Returns one { dtype, shape, data } per output, in signature order.
   */
  async run(s, inputs) {
    const w = this.wasm;
    const signature = this.signatures[s];
    const buffers = [];
    try {
      signature.inputs.forEach((input, i) => {
        const type = this.model.getInputTensorType(s, i);
        const buffer = w.LiteRtTensorBuffer.createManaged(this.environment, w.LiteRtTensorBufferType.HOST_MEMORY, type, input.bytes);
        type.delete();
        buffers.push(buffer);
        const address = buffer.lock(w.LiteRtTensorBufferLockMode.WRITE);
        try {
          if (inputs?.[i]) w.HEAPU8.set(inputs[i], address);
          else w.HEAPU8.fill(0, address, address + input.bytes);
        } finally {
          buffer.unlock();
        }
      });
      const mark = this.lines.length;
      let outputs;
      try {
        outputs = await this.compiled.run(s, buffers);
      } catch (e) {
        throw new RuntimeError(`LiteRT failed running the model: ${this.explain(e)}`, 'run');
      }
      const errors = this.errorsLoggedSince(mark);
      if (errors.length) {
        for (const o of outputs) o.delete();
        // The first run allocates the tensors and prepares the kernels: failures there are the model's.
        const preparing = errors.some((l) => /prepar|allocat|unresolved|not supported|unsupported/i.test(l));
        throw new RuntimeError(`LiteRT ${preparing ? 'cannot prepare' : 'failed running'} the model: ${errors.join('; ')}`, preparing ? 'load' : 'run');
      }
      return outputs.map((o) => {
        const { dtype, shape } = describe(o.tensorType());
        const address = o.lock(w.LiteRtTensorBufferLockMode.READ);
        try {
          return { dtype, shape, data: w.HEAPU8.slice(address, address + o.packedSize()) };
        } finally {
          o.unlock();
          o.delete();
        }
      });
    } finally {
      for (const b of buffers) b.delete();
    }
  }
}
