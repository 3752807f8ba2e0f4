// llama.cpp as an independent reference for exported GGUF files, through node-llama-cpp
// (a prebuilt llama.cpp for the CPU; tests/e2e/export_gguf.sh installs it with npm into the
// build folder and sets LLAMA_NPM_PREFIX to that install).
//
//   node llama_cpp.mjs tokenize MODEL.gguf TEXT_FILE            # ids on one line
//   node llama_cpp.mjs logprobs MODEL.gguf IDS_FILE LENGTH WINDOWS
//        # per target of the first WINDOWS non-overlapping windows of LENGTH tokens of the
//        # ids: "window<TAB>position<TAB>target<TAB>logprob", as `alibi eval --dump-logprobs`
//   node llama_cpp.mjs greedy MODEL.gguf IDS_FILE N             # N greedy ids after the prompt
//   node llama_cpp.mjs speed MODEL.gguf IDS_FILE N              # tokens/s: the prompt, then N new
//
// The functions below are the same for another script: tokenize, windowLogprobs, greedyTokens.
// Log-probabilities are formed here in double from llama.cpp's raw logits, so llama.cpp's
// sampler settings play no part. The context runs with an f32 KV cache and without flash
// attention (whose CPU path rounds Q, K and V to f16), leaving llama.cpp's own arithmetic:
// f32 products, and its GELU, which reads a table at the input rounded to f16.
import {readFileSync} from "node:fs";
import {join} from "node:path";
import {pathToFileURL} from "node:url";

const prefix = process.env.LLAMA_NPM_PREFIX;
if (!prefix) throw new Error("set LLAMA_NPM_PREFIX to the npm prefix holding node-llama-cpp");
const {getLlama, LlamaLogLevel} = await import(
  pathToFileURL(join(prefix, "node_modules", "node-llama-cpp", "dist", "index.js")).href);

const threads = Number(process.env.LLAMA_THREADS || process.env.OMP_NUM_THREADS || 1);

// The model, CPU only, from the prebuilt binaries (never a source build or a download).
export async function loadModel(path) {
  const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
                                logLevel: LlamaLogLevel.error});
  return llama.loadModel({modelPath: path, gpuLayers: 0});
}

async function newSequence(model, contextSize) {
  const context = await model.createContext({contextSize, batchSize: contextSize, threads, flashAttention: false,
                                             experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
  return context.getSequence();
}

// llama.cpp's token ids of text (no BOS: the GGUF says add_bos_token false; no special tokens).
export function tokenize(model, text) {
  return model.tokenize(text, false);
}

// log p(target) from a Map id -> logit over the whole vocabulary, in double.
function logSoftmaxAt(logits, target) {
  let max = -Infinity;
  for (const v of logits.values()) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits.values()) sum += Math.exp(v - max);
  return logits.get(target) - max - Math.log(sum);
}

// [{window, position, target, logprob}] for windows w = 0..nWindows-1 of `length` tokens:
// inputs ids[w*length .. w*length+length), targets the next ids; each window from an empty
// context, as alibi eval's non-overlapping windows.
export async function windowLogprobs(model, ids, length, nWindows) {
  const sequence = await newSequence(model, length + 1);  // one spare: a full context would shift out the first token
  const rows = [];
  for (let w = 0; w < nWindows; ++w) {
    const base = w * length;
    if (base + length + 1 > ids.length) throw new Error(`window ${w} needs ${base + length + 1} ids, have ${ids.length}`);
    await sequence.clearHistory();
    const input = ids.slice(base, base + length).map((t) => [t, {generateNext: {logits: true}}]);
    const out = await sequence.controlledEvaluate(input);
    for (let p = 0; p < length; ++p) {
      const target = ids[base + p + 1];
      rows.push({window: w, position: p, target, logprob: logSoftmaxAt(out[p].next.logits, target)});
    }
  }
  return rows;
}

// The n ids greedy decoding picks after `prompt` (argmax of llama.cpp's logits, the lowest
// id on a tie; EOS is a token like any other and does not stop it).
export async function greedyTokens(model, prompt, n) {
  const sequence = await newSequence(model, prompt.length + n + 1);
  const argmax = (logits) => {
    let best = -1, bestLogit = -Infinity;
    for (const [id, v] of logits) if (v > bestLogit || (v === bestLogit && id < best)) [best, bestLogit] = [id, v];
    return best;
  };
  let out = await sequence.controlledEvaluate(prompt.map((t, i) => (i + 1 < prompt.length ? t : [t, {generateNext: {logits: true}}])));
  const picked = [];
  while (picked.length < n) {
    const next = argmax(out[out.length - 1].next.logits);
    picked.push(next);
    if (picked.length < n) out = await sequence.controlledEvaluate([[next, {generateNext: {logits: true}}]]);
  }
  return picked;
}

// Speed as bench/bench_generate.sh measures ours: the prompt but its last id in one batch,
// then n tokens generated one forward each (the first forward takes the prompt's last id),
// greedy, through llama.cpp's own sampler. The context is llama.cpp at its fastest here, not
// our arithmetic: its default f16 KV cache, and flash attention off (its CPU flash path
// generated 4.5x slower on this model at 1k context: 14 against 65 tokens/s on one thread;
// an f32 cache, 58). {promptSeconds, promptTokens, generateSeconds, generated}.
export async function speed(model, prompt, n) {
  const context = await model.createContext({contextSize: prompt.length + n + 1, batchSize: prompt.length, threads,
                                             flashAttention: false});
  const sequence = context.getSequence();
  let start = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
  const promptSeconds = (performance.now() - start) / 1000;
  start = performance.now();
  let generated = 0;
  for await (const _ of sequence.evaluate(prompt.slice(-1), {temperature: 0})) {
    if (++generated === n) break;
  }
  const generateSeconds = (performance.now() - start) / 1000;
  await context.dispose();
  return {promptSeconds, promptTokens: prompt.length - 1, generateSeconds, generated};
}

// ---- command line ----------------------------------------------------------------------
const readIds = (file) => readFileSync(file, "utf8").trim().split(/\s+/).map(Number);

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [command, modelPath, ...args] = process.argv.slice(2);
  const model = await loadModel(modelPath);
  if (command === "tokenize") {
    console.log(tokenize(model, readFileSync(args[0], "utf8")).join(" "));
  } else if (command === "logprobs") {
    const rows = await windowLogprobs(model, readIds(args[0]), Number(args[1]), Number(args[2]));
    console.log(rows.map((r) => `${r.window}\t${r.position}\t${r.target}\t${r.logprob.toPrecision(9)}`).join("\n"));
  } else if (command === "greedy") {
    console.log((await greedyTokens(model, readIds(args[0]), Number(args[1]))).join(" "));
  } else if (command === "speed") {
    const r = await speed(model, readIds(args[0]), Number(args[1]));
    console.log(`prompt: ${r.promptTokens} tokens in ${r.promptSeconds.toFixed(3)} s ` +
                `(${(r.promptTokens / r.promptSeconds).toFixed(1)} tokens/s); generation: ${r.generated} tokens ` +
                `in ${r.generateSeconds.toFixed(3)} s (${(r.generated / r.generateSeconds).toFixed(1)} tokens/s)`);
  } else {
    throw new Error(`unknown command '${command}': tokenize | logprobs | greedy | speed`);
  }
  await model.dispose();
}
