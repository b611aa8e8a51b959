// The build package (pkg/build/, scripts/build-wasm): the core plus the build step. Packing
// in wasm gives the same bytes and checksum as the native CLI (`kaptain context`) for the same
// files; contextFiles names what a cell needs; the core every page loads (pkg/) refuses files.
// Run: node --test tests/wasm/ (KAPTAIN_CLI=/path/to/kaptain for the native comparison).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";

const root = new URL("../../", import.meta.url);
const buildCell = readFileSync(new URL("examples/cells/build.cell", root), "utf8");
const trainCell = readFileSync(new URL("examples/cells/train.cell", root), "utf8");
const deployCell = readFileSync(new URL("examples/cells/deploy.cell", root), "utf8");

/** Files of the example build cell's model, one of them 1 MiB of pseudo-random bytes. */
function modelFiles() {
  const big = new Uint8Array(1 << 20);
  let x = 0x2545f491;
  for (let i = 0; i < big.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    big[i] = x & 0xff;
  }
  const text = (s) => new TextEncoder().encode(s);
  return { "trainer.py": big, "requirements.txt": text("numpy==1.26.4\n") };
}

let build;
let core;
before(async () => {
  build = await import(new URL("pkg/build/kaptain.js", root));
  await build.default({ module_or_path: readFileSync(new URL("pkg/build/kaptain_bg.wasm", root)) });
  core = await import(new URL("pkg/kaptain.js", root));
  await core.default({ module_or_path: readFileSync(new URL("pkg/kaptain_bg.wasm", root)) });
});

test("contextFiles names the files a cell's build packs, and none for a deploy", () => {
  assert.deepEqual(build.contextFiles(buildCell), ["requirements.txt", "trainer.py"]);
  assert.deepEqual(build.contextFiles(deployCell), []);
  assert.ok(build.contextFiles(trainCell).includes("trainer.py"));
  const outside = buildCell.replace("main_file: trainer.py", "main_file: ../trainer.py");
  assert.throws(() => build.contextFiles(outside), /model\.main_file: "\.\.\/trainer\.py" is outside the notebook's directory/);
});

test("packContext: the same files give the same bytes, and a missing one is named", () => {
  const first = build.packContext(buildCell, modelFiles());
  const second = build.packContext(buildCell, modelFiles());
  assert.match(first.checksum, /^[0-9a-f]{64}$/);
  assert.deepEqual(Buffer.from(first.archive), Buffer.from(second.archive));
  assert.deepEqual(first.files.map(([path]) => path), ["Dockerfile", "requirements.txt", "trainer.py"]);
  assert.ok(first.dockerfile.endsWith(`LABEL checksum=${first.checksum}\n`));
  const { "requirements.txt": _, ...missing } = modelFiles();
  assert.throws(() => build.packContext(buildCell, missing), /model\.requirements: "requirements\.txt" was not found/);
});

test("packContext in wasm is byte for byte `kaptain context` natively", { skip: !process.env.KAPTAIN_CLI && "KAPTAIN_CLI not set" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "kaptain-pack-"));
  try {
    for (const [path, bytes] of Object.entries(modelFiles())) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), bytes);
    }
    writeFileSync(join(dir, "build.cell"), buildCell);
    const out = join(dir, "context.tar.gz");
    const printed = execFileSync(process.env.KAPTAIN_CLI, ["context", join(dir, "build.cell"), "--dir", dir, "--out", out]).toString().trim().split("\n");
    const packed = build.packContext(buildCell, modelFiles());
    assert.equal(printed.at(-1), packed.checksum);
    assert.deepEqual(Buffer.from(packed.archive), readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the core every page loads has no build step: files are refused, packContext absent", async () => {
  assert.equal(core.packContext, undefined);
  assert.equal(core.contextFiles, undefined);
  await assert.rejects(
    core.apply(buildCell, { server: "http://127.0.0.1:1", files: modelFiles() }),
    /options: unknown field `files`/,
  );
});
