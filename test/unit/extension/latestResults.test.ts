/**
 * The extension host's latest result per model (the ablation overlays of a model opened after its run):
 * kept per file, dropped when the file changes or goes, bounded, and shown in front only once per viewer document.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LatestResults } from "../../../extension/latestResults.ts";

describe("latest result per model (extension-host state)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-latest-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = (name: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, `model ${name}`);
    return f;
  };

  it("keeps the latest result of each model, whatever form its path takes", () => {
    const a = model("a.onnx"), b = model("b.onnx");
    const latest = new LatestResults<{ run: number }>();
    assert.equal(latest.get(a), undefined, "nothing before a run");
    const first = { run: 1 }, second = { run: 2 }, other = { run: 3 };
    latest.set(a, first);
    latest.set(b, other);
    assert.equal(latest.get(a), first);
    latest.set(a, second);
    assert.equal(latest.get(a), second, "a later run replaces the earlier one");
    assert.equal(latest.get(path.join(dir, ".", "sub", "..", "a.onnx")), second, "the same file by another spelling");
    assert.equal(latest.get(path.relative(process.cwd(), b)), other, "a relative path");
    latest.delete(a);
    assert.equal(latest.get(a), undefined);
    assert.equal(latest.size, 1);
  });

  it("drops a result when its model was rewritten, touched or deleted after the run", () => {
    const a = model("a.onnx"), b = model("b.onnx"), c = model("c.onnx");
    const latest = new LatestResults<object>();
    for (const f of [a, b, c]) latest.set(f, {});
    fs.appendFileSync(a, " pruned"); // other size
    assert.equal(latest.get(a), undefined, "rewritten");
    const t = fs.statSync(b).mtime;
    fs.utimesSync(b, t, new Date(t.getTime() + 5000)); // same size, newer mtime
    assert.equal(latest.get(b), undefined, "touched");
    fs.rmSync(c);
    assert.equal(latest.get(c), undefined, "deleted");
    assert.equal(latest.size, 0, "all three forgotten");
    // A model that did not exist when the run ended never matches (it cannot be the model the run saw).
    latest.set(path.join(dir, "gone.onnx"), {});
    model("gone.onnx");
    assert.equal(latest.get(path.join(dir, "gone.onnx")), undefined);
  });

  it("forgets the least recently recorded models beyond its capacity", () => {
    const files = ["m0", "m1", "m2", "m3"].map((n) => model(`${n}.onnx`));
    const latest = new LatestResults<{ n: number }>(3);
    files.slice(0, 3).forEach((f, n) => latest.set(f, { n }));
    latest.set(files[0]!, { n: 10 }); // m0 is now the most recent
    latest.set(files[3]!, { n: 3 });
    assert.equal(latest.size, 3);
    assert.equal(latest.get(files[1]!), undefined, "m1, the oldest, went");
    assert.deepEqual([files[0], files[2], files[3]].map((f) => latest.get(f!)?.n), [10, 2, 3]);
  });

  it("brings a result to the front once per viewer document, and again for a newer result", () => {
    const latest = new LatestResults<object>();
    const doc1 = {}, doc2 = {};
    const r1 = {}, r2 = {};
    assert.equal(latest.markShown(doc1, r1), true, "first time in this document: make it the active overlay");
    assert.equal(latest.markShown(doc1, r1), false, "the same result again (a reload): restore it quietly");
    assert.equal(latest.markShown(doc2, r1), true, "another document (the model opened again)");
    assert.equal(latest.markShown(doc1, r2), true, "a newer run");
    assert.equal(latest.markShown(doc1, r1), true, "a different result than the one last shown");
  });
});
