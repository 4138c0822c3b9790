import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ModelProtoSchema } from "onnx-buf";
import { encodeBytes } from "../../../analyzers/onnx/encode.ts";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { computeMetrics } from "../../../analyzers/graph/metrics.ts";
import { inferShapes } from "../../../analyzers/graph/shapes/index.ts";
import { isScalpelError } from "../../../analyzers/onnx/errors.ts";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import { seededRandom } from "../../../analyzers/runtime/ort.ts";
import { corpusModels } from "../../helpers/corpus.ts";
import { modelBytes, tinyCnn } from "../../helpers/build.ts";

/** Mutations a damaged download, a bad disk or a hostile file can produce. */
function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  const b = Buffer.from(src);
  const at = () => Math.floor(rnd() * b.length);
  switch (Math.floor(rnd() * 7)) {
    case 0: // truncation
      return b.subarray(0, at());
    case 1: // a few random bytes
      for (let i = 0, n = 1 + Math.floor(rnd() * 8); i < n; i++) b[at()] = Math.floor(rnd() * 256);
      return b;
    case 2: // a run of 0xff (never-ending varints)
      b.fill(0xff, at(), at());
      return b.fill(0xff, Math.max(0, at() - 12), at());
    case 3: { // delete a range
      const s = at(), e = Math.min(b.length, s + 1 + Math.floor(rnd() * 64));
      return Buffer.concat([b.subarray(0, s), b.subarray(e)]);
    }
    case 4: { // insert random bytes
      const s = at(), ins = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 16) }, () => Math.floor(rnd() * 256)));
      return Buffer.concat([b.subarray(0, s), ins, b.subarray(s)]);
    }
    case 5: { // duplicate a range (repeated fields, overlapping messages)
      const s = at(), e = Math.min(b.length, s + 1 + Math.floor(rnd() * 128));
      return Buffer.concat([b.subarray(0, e), b.subarray(s, e), b.subarray(e)]);
    }
    default: // bump a length prefix-like byte
      b[at()] ^= 0x40;
      return b;
  }
}

describe("fuzzing the loader and the analysis", () => {
  it("loads or rejects clearly 10,000 mutated real models, never crashing or hanging", function () {
    this.timeout(240_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-fuzz-"));
    const seeds = corpusModels()
      .filter((_, i) => i % 9 === 0)
      .map((f) => fs.readFileSync(f) as Uint8Array)
      .concat([modelBytes(tinyCnn())]);
    const rnd = seededRandom(20261130);
    let loaded = 0, rejected = 0, slowest = 0;
    const crashes: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const seed = seeds[i % seeds.length]!;
      const bytes = mutate(seed, rnd);
      const t0 = performance.now();
      // Every fifth input goes through a file and the lazy structure scanner.
      const viaFile = i % 5 === 0;
      const name = viaFile ? path.join(dir, `fuzz-${i}.onnx`) : `fuzz-${i}.onnx`;
      if (viaFile) fs.writeFileSync(name, bytes);
      try {
        const m = viaFile ? loadModel(name, { lazy: { fileBytes: 0, payloadBytes: 16 } }) : loadModel(bytes, { name });
        const g = buildGraph(m);
        computeMetrics(g, inferShapes(g));
        encodeBytes(ModelProtoSchema, m.proto); // whatever loads can be saved again
        loaded++;
      } catch (e) {
        if (isScalpelError(e) && e.file === name) rejected++;
        else crashes.push(`#${i}: ${(e as Error)?.stack?.split("\n").slice(0, 3).join(" | ") ?? e}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
      if (viaFile) fs.rmSync(name);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(crashes.slice(0, 10), [], `${crashes.length} inputs crashed`);
    assert.equal(loaded + rejected, 10_000);
    assert.ok(rejected > 1000 && loaded > 1000, `both outcomes exercised (loaded ${loaded}, rejected ${rejected})`);
    assert.ok(slowest < 2000, `slowest input took ${slowest.toFixed(0)} ms`);
  });
});
