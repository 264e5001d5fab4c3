// EdgeBuild's TFLite reference runner: describes and runs .tflite files with Google's LiteRT so the tests judge the
// files EdgeBuild writes with Google's interpreter, not with EdgeBuild's own code. Started by ./tflite-runner, which
// installs the pinned runtime first and passes its node_modules in EDGEBUILD_TFLITE_NODE_MODULES.
//
//   info MODEL [--tensors]                                        JSON: inputs, outputs, operators, runtime check
//   run  MODEL --input NAME=FILE.npy [...] --out DIR [--signature KEY]   writes DIR/<output>.npy, JSON summary
//   version                                                       JSON: the runtime
//
// Exit codes: 0 done, 2 bad arguments or inputs, 3 bad model (unreadable, or the runtime rejects it), 4 the runtime
// failed running it (5, the runtime cannot be installed, comes from ./tflite-runner). Errors: one line on stderr.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LiteRt, RuntimeError } from './litert-node.mjs';
import { NpyError, readNpy, writeNpy } from './npy.mjs';
import { ModelFileError, readTfliteModel } from './tflite-file.mjs';

class UsageError extends Error {}
class ModelError extends Error {}

const USAGE = 'usage: tflite-runner info MODEL [--tensors] | run MODEL --input NAME=FILE.npy [...] --out DIR [--signature KEY] | version';

// LiteRT and its loader write to the console (e.g. a warning that there is no WebGPU): stdout carries only our JSON,
// so everything they print is kept and shown on stderr only with --verbose.
const verbose = process.argv.includes('--verbose');
for (const method of ['log', 'info', 'warn', 'error', 'debug']) {
  console[method] = (...parts) => { if (verbose) process.stderr.write(`${parts.join(' ')}\n`); };
}

function parseArguments(argv) {
  const [command, ...rest] = argv;
  const options = { command, model: null, inputs: [], out: null, signature: null, tensors: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      if (i + 1 >= rest.length) throw new UsageError(`${a} needs a value`);
      return rest[++i];
    };
    if (a === '--tensors') options.tensors = true;
    else if (a === '--verbose') { /* read above */ }
    else if (a === '--input') options.inputs.push(value());
    else if (a === '--out') options.out = value();
    else if (a === '--signature') options.signature = value();
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else if (options.model === null) options.model = a;
    else throw new UsageError(`unexpected argument '${a}'`);
  }
  if (!['info', 'run', 'version'].includes(command)) throw new UsageError(command ? `unknown command '${command}'` : 'no command');
  if (command !== 'version' && options.model === null) throw new UsageError(`${command} needs a MODEL`);
  if (command === 'run' && options.out === null) throw new UsageError('run needs --out DIR');
  if (command === 'run' && options.inputs.length === 0) throw new UsageError('run needs at least one --input');
  return options;
}

/** Output file names: characters outside [A-Za-z0-9._-] become '_' (StatefulPartitionedCall:0 -> ..._0.npy). */
function outputFiles(names) {
  const used = new Set();
  return names.map((name) => {
    const base = name.replace(/[^A-Za-z0-9._-]/g, '_') || 'output';
    let file = `${base}.npy`;
    for (let n = 1; used.has(file); n++) file = `${base}_${n}.npy`;
    used.add(file);
    return file;
  });
}

function readModel(file) {
  let bytes;
  try { bytes = new Uint8Array(fs.readFileSync(file)); } catch (e) { throw new ModelError(`${file}: cannot read it (${e.code ?? e.message})`); }
  try { return { bytes, parsed: readTfliteModel(bytes) }; } catch (e) {
    if (e instanceof ModelFileError) throw new ModelError(`${file}: ${e.message}`);
    throw e;
  }
}

/**
 * Ties LiteRT's signature names to the file's tensors: through the file's SignatureDef when it has one with that
 * key, else (a model without SignatureDefs, where LiteRT names its default signature after the tensors) by name,
 * then by position among the main subgraph's inputs/outputs.
 */
function tensorsOf(parsed, signature, side) {
  const def = parsed.signatures.find((d) => d.key === signature.key);
  const graph = parsed.subgraphs[def?.subgraph ?? 0];
  const list = side === 'inputs' ? graph.inputs : graph.outputs;
  return signature[side].map((entry, i) => {
    const mapped = def?.[side].find((m) => m.name === entry.name);
    const index = mapped?.tensor ?? graph.tensors.find((t) => t.name === entry.name)?.index ?? list[i];
    return graph.tensors[index];
  });
}

function describeIo(entry, tensor) {
  const d = {
    name: entry.name,
    tensor_name: tensor?.name ?? null,
    tensor_index: tensor?.index ?? null,
    dtype: entry.dtype,
    shape: entry.shape,
    quantization: tensor?.quantization ?? null,
  };
  if (tensor?.shape_signature?.some((x) => x < 0)) d.shape_signature = tensor.shape_signature;
  return d;
}

function pickSignature(signatures, key) {
  if (signatures.length === 0) throw new ModelError('the runtime sees no signature (no inputs to feed)');
  if (key === null) return 0;
  const index = signatures.findIndex((s) => s.key === key);
  if (index < 0) throw new UsageError(`no signature '${key}' (the model has: ${signatures.map((s) => s.key).join(', ')})`);
  return index;
}

async function startRuntime() {
  const nodeModules = process.env.EDGEBUILD_TFLITE_NODE_MODULES;
  if (!nodeModules || !fs.existsSync(path.join(nodeModules, '@litertjs', 'core', 'package.json'))) {
    throw new Error('EDGEBUILD_TFLITE_NODE_MODULES does not name an installed @litertjs/core: start the runner through ./tflite-runner');
  }
  const runtime = new LiteRt(nodeModules, verbose ? (l) => process.stderr.write(`${l}\n`) : null);
  await runtime.start();
  return runtime;
}

async function info(options) {
  const { bytes, parsed } = readModel(options.model);
  const main = parsed.subgraphs[0] ?? { tensors: [], inputs: [], outputs: [], operators: [] };
  const counts = {};
  for (const graph of parsed.subgraphs) {
    for (const op of graph.operators) {
      const name = parsed.operatorCodes[op.opcode]?.name ?? `OPCODE_INDEX_${op.opcode}`;
      counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  const result = {
    model: path.resolve(options.model),
    schema_version: parsed.version,
    description: parsed.description,
    subgraphs: parsed.subgraphs.length,
    signature_keys: parsed.signatures.map((s) => s.key),
    inputs: [],
    outputs: [],
    operators: {
      total: Object.values(counts).reduce((a, b) => a + b, 0),
      counts,
      codes: parsed.operatorCodes.map((c) => ({ name: c.name, builtin_code: c.builtin, version: c.version, ...(c.custom ? { custom: c.custom } : {}) })),
    },
  };
  if (options.tensors) result.tensors = main.tensors;
  const runtime = await startRuntime();
  result.runtime = { ...runtime.describeRuntime(), model_ok: false };
  try {
    const signatures = await runtime.compile(bytes);
    const s = pickSignature(signatures, options.signature);
    const signature = signatures[s];
    const inputTensors = tensorsOf(parsed, signature, 'inputs');
    const outputTensors = tensorsOf(parsed, signature, 'outputs');
    const files = outputFiles(signature.outputs.map((o) => o.name));
    result.inputs = signature.inputs.map((entry, i) => describeIo(entry, inputTensors[i]));
    result.outputs = signature.outputs.map((entry, i) => ({ ...describeIo(entry, outputTensors[i]), file: files[i] }));
    // model_ok: loaded, every kernel prepared, and one run on zero inputs finished.
    await runtime.run(s, null);
    result.runtime.model_ok = true;
  } catch (e) {
    if (!(e instanceof RuntimeError || e instanceof ModelError)) throw e;
    result.runtime.error = e.message;
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    throw new ModelError(`${options.model}: ${e.message}`);
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** NAME=FILE, or a bare FILE when the model has one input. */
function feeds(options, signature, tensors) {
  const byInput = new Map();
  for (const spec of options.inputs) {
    const eq = spec.indexOf('=');
    let index;
    let file;
    if (eq < 0) {
      if (signature.inputs.length !== 1) throw new UsageError(`--input ${spec}: the model has ${signature.inputs.length} inputs; write NAME=FILE.npy`);
      index = 0;
      file = spec;
    } else {
      const name = spec.slice(0, eq);
      file = spec.slice(eq + 1);
      index = signature.inputs.findIndex((input) => input.name === name);
      if (index < 0) index = tensors.findIndex((t) => t?.name === name);
      if (index < 0) throw new UsageError(`--input ${name}: the model has no input '${name}' (it has: ${signature.inputs.map((x) => x.name).join(', ')})`);
    }
    if (byInput.has(index)) throw new UsageError(`--input: '${signature.inputs[index].name}' is given twice`);
    byInput.set(index, file);
  }
  return signature.inputs.map((input, i) => {
    const file = byInput.get(i);
    if (file === undefined) throw new UsageError(`no --input for '${input.name}'`);
    let npy;
    try { npy = readNpy(new Uint8Array(fs.readFileSync(file))); } catch (e) {
      if (e instanceof NpyError) throw new UsageError(`${file}: ${e.message}`);
      if (e.code) throw new UsageError(`${file}: cannot read it (${e.code})`);
      throw e;
    }
    if (npy.dtype !== input.dtype) throw new UsageError(`${file}: holds ${npy.dtype}; input '${input.name}' takes ${input.dtype} (no casts are made)`);
    if (npy.shape.length !== input.shape.length || npy.shape.some((d, k) => d !== input.shape[k])) {
      const dynamic = tensors[i]?.shape_signature?.some((d) => d < 0) ? ' (the runner runs a model at the shape stored in the file)' : '';
      throw new UsageError(`${file}: shape (${npy.shape.join(', ')}); input '${input.name}' takes (${input.shape.join(', ')})${dynamic}`);
    }
    return npy.data;
  });
}

async function run(options) {
  const { bytes, parsed } = readModel(options.model);
  const runtime = await startRuntime();
  let signatures;
  try { signatures = await runtime.compile(bytes); } catch (e) {
    if (e instanceof RuntimeError) throw new ModelError(`${options.model}: ${e.message}`);
    throw e;
  }
  const s = pickSignature(signatures, options.signature);
  const signature = signatures[s];
  const data = feeds(options, signature, tensorsOf(parsed, signature, 'inputs'));
  let outputs;
  try { outputs = await runtime.run(s, data); } catch (e) {
    if (e instanceof RuntimeError && e.stage === 'load') throw new ModelError(`${options.model}: ${e.message}`);
    throw e;
  }
  fs.mkdirSync(options.out, { recursive: true });
  const files = outputFiles(signature.outputs.map((o) => o.name));
  const summary = outputs.map((o, i) => {
    const npy = writeNpy(o.dtype, o.shape, o.data);
    fs.writeFileSync(path.join(options.out, files[i]), npy);
    return { name: signature.outputs[i].name, file: files[i], dtype: o.dtype, shape: o.shape, sha256: crypto.createHash('sha256').update(npy).digest('hex') };
  });
  process.stdout.write(`${JSON.stringify({ signature: signature.key, outputs: summary }, null, 2)}\n`);
}

async function main() {
  let options;
  try { options = parseArguments(process.argv.slice(2)); } catch (e) {
    process.stderr.write(`tflite-runner: error: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  try {
    if (options.command === 'version') {
      const runtime = await startRuntime();
      process.stdout.write(`${JSON.stringify(runtime.describeRuntime(), null, 2)}\n`);
    } else if (options.command === 'info') await info(options);
    else await run(options);
    return 0;
  } catch (e) {
    const code = e instanceof UsageError ? 2 : e instanceof ModelError ? 3 : e instanceof RuntimeError ? 4 : 1;
    process.stderr.write(`tflite-runner: error: ${e.message}\n`);
    if (code === 1 && verbose) process.stderr.write(`${e.stack}\n`);
    return code;
  }
}

process.exitCode = await main();
