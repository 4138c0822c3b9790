import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main } from "../../../analyzers/cli.ts";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import { saveModel } from "../../../analyzers/onnx/save.ts";
import { modelBytes, node, tinyCnn } from "../../helpers/build.ts";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => (out += t + "\n"), err: (t) => (err += t + "\n") });
  return { code, out, err };
}

describe("CLI on bad input", () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-cli-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, bytes: Uint8Array | string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, bytes);
    return f;
  };

  /** One line naming the file and the problem, exit code 2, no stack trace. */
  async function expectClearError(file: string, problem: RegExp, ...extra: string[]) {
    const r = await run("inspect", file, ...extra);
    assert.equal(r.code, 2, `exit code for ${file}: ${r.err}`);
    assert.equal(r.err.trimEnd().split("\n").length, 1, `one line, got:\n${r.err}`);
    assert.ok(r.err.includes(file), `names the file: ${r.err}`);
    assert.match(r.err, problem);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }

  it("inspects a valid model", async () => {
    const r = await run("inspect", write("ok.onnx", modelBytes(tinyCnn())));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /params: 137 /);
    assert.match(r.out, /MACs:\s+6.93K \(6,932\)/);
    assert.match(r.out, /output\s+y: float32 \[1, 5\]/);
  });

  it("reports a truncated file", async () => {
    const bytes = modelBytes(tinyCnn());
    await expectClearError(write("trunc.onnx", bytes.subarray(0, Math.floor(bytes.length * 0.6))), /truncated or corrupt|truncated or invalid/);
  });

  it("reports a file that is not ONNX", async () => {
    await expectClearError(write("notes.onnx", "this is a text file, not a model\n"), /not a valid ONNX protobuf|not an ONNX model/);
    const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");
    await expectClearError(write("image.onnx", png), /not a valid ONNX protobuf|not an ONNX model|truncated/);
    await expectClearError(write("empty.onnx", ""), /is empty/);
  });

  it("reports corrupt bytes inside a model", async () => {
    const bytes = Buffer.from(modelBytes(tinyCnn()));
    // Overwrite the start of the node list (after the small header) with bytes no protobuf accepts.
    bytes.fill(0xff, 40, 72);
    await expectClearError(write("corrupt.onnx", bytes), /truncated or corrupt|not a valid ONNX protobuf/);
  });

  it("reports a missing file and a folder", async () => {
    await expectClearError(path.join(dir, "absent.onnx"), /file not found/);
    await expectClearError(dir, /is a folder/);
  });

  it("reports a missing external-data file", async () => {
    const src = write("src.onnx", modelBytes(tinyCnn()));
    const ext = path.join(dir, "ext.onnx");
    saveModel(loadModel(src), ext, { externalData: { kind: "external", location: "ext.bin", threshold: 0 } });
    fs.rmSync(path.join(dir, "ext.bin"));
    await expectClearError(ext, /external-data file 'ext\.bin' .*is missing/);
  });

  it("reports a cycle and a dangling input", async () => {
    const cyc = tinyCnn();
    cyc.nodes[1] = node("Add", ["c1", "f1"], ["r1"], {}, "add_back");
    await expectClearError(write("cycle.onnx", modelBytes(cyc)), /cycle: .*add_back/);
    const dangling = tinyCnn();
    dangling.nodes[2] = node("GlobalAveragePool", ["missing_tensor"], ["p1"], {}, "gap");
    await expectClearError(write("dangling.onnx", modelBytes(dangling)), /'gap' .* reads 'missing_tensor'/);
  });

  it("shows the stack only with --verbose", async () => {
    const f = write("trunc2.onnx", modelBytes(tinyCnn()).subarray(0, 30));
    const r = await run("inspect", f, "--verbose");
    assert.equal(r.code, 2);
    assert.match(r.err, /\n\s+at /);
  });

  it("rewrite: refuses to overwrite, and round-trips byte-identically", async () => {
    const src = write("rw.onnx", modelBytes(tinyCnn()));
    const out = path.join(dir, "rw2.onnx");
    assert.equal((await run("rewrite", src, "--out", out)).code, 0);
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(src));
    const again = await run("rewrite", src, "--out", out);
    assert.equal(again.code, 2);
    assert.match(again.err, /already exists; refusing to overwrite/);
    const usage = await run("rewrite", src);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--out FILE is required/);
  });
});
