#!/usr/bin/env node
// Build-context packing throughput in wasm under Node: the build package's packContext
// (pkg/build/, scripts/build-wasm) on the same 10 MiB context as the native bench
// (examples/bench_context.rs: trainer.py plus 5 files of source-like text and 5 of xorshift
// bytes, 1 MiB each), packed again and again for SECONDS (default 5): the copy into wasm
// memory, checksum, tar, gzip level 6, and the archive handed back. MB/s counts content bytes
// (1 MB = 10^6 bytes); one thread. Usage: node scripts/bench-context-wasm.mjs [SECONDS]
import { readFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
const seconds = Number(process.argv[2] ?? 5);
const build = await import(new URL("pkg/build/kaptain.js", root));
await build.default({ module_or_path: readFileSync(new URL("pkg/build/kaptain_bg.wasm", root)) });

const MIB = 1 << 20;
const files = { "trainer.py": new TextEncoder().encode("import data\nprint('training')\n") };
const extra = [];
let state = 0x2545f4914f6cdd1dn;
const mask = (1n << 64n) - 1n;
for (let i = 0; i < 5; i++) {
  let text = "";
  for (let line = 0; text.length < MIB; line++) {
    text += `def step_${i}_${line}(x, scale=${line % 97}):\n    return x * scale + ${(line * 31) % 1013}\n\n`;
  }
  files[`data/text-${i}.py`] = new TextEncoder().encode(text.slice(0, MIB));
  extra.push(`data/text-${i}.py`);
  const blob = new Uint8Array(MIB);
  const view = new DataView(blob.buffer);
  for (let at = 0; at < MIB; at += 8) {
    state ^= (state << 13n) & mask;
    state ^= state >> 7n;
    state ^= (state << 17n) & mask;
    view.setBigUint64(at, state, true);
  }
  files[`data/blob-${i}.bin`] = blob;
  extra.push(`data/blob-${i}.bin`);
}
const cell = [
  "%%kaptain build",
  "model:",
  "  id: bench/context",
  "  framework: tensorflow",
  "  main_file: trainer.py",
  `  extra_files: [${extra.join(", ")}]`,
  "  image_name: registry.example.com/bench/context",
  "  base_image: python:3.11-slim",
  "",
].join("\n");

let runs = 0;
let content = 0;
let archive = 0;
const started = performance.now();
while (runs === 0 || performance.now() - started < seconds * 1000) {
  const packed = build.packContext(cell, files);
  content += packed.files.reduce((sum, [, size]) => sum + size, 0);
  archive = packed.archive.length;
  runs++;
}
const elapsed = (performance.now() - started) / 1000;
console.log(
  `wasm context packing (Node ${process.version}): ${(content / 1e6 / elapsed).toFixed(1)} MB/s ` +
    `(${runs} packs of ${(content / 1e6 / runs).toFixed(2)} MB in ${elapsed.toFixed(2)} s: copy in + checksum + tar + gzip level 6 -> ${archive} bytes, one thread)`,
);
