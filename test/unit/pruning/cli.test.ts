import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ModelProtoSchema } from "onnx-buf";
import { main } from "../../../analyzers/cli.ts";
import { encodeBytes } from "../../../analyzers/onnx/encode.ts";
import type { GroupAnalysis, Plan } from "../../../analyzers/pruning/types.ts";
import { TestGraph } from "../../helpers/pruneGraph.ts";
import { onnxChecker } from "../../helpers/pruneCheck.ts";
import { torchvisionModel } from "../../fixtures/paths.ts";
import { spawnSync } from "node:child_process";

function cnn(): Uint8Array {
  const g = new TestGraph();
  const x = g.input([1, 3, 8, 8]);
  const a = g.op("Relu", [g.bn(g.conv(x, 3, 16), 16)]);
  const b = g.op("Relu", [g.bn(g.conv(a, 16, 16), 16)]);
  const p = g.op("Flatten", [g.op("GlobalAveragePool", [g.op("Add", [a, b])])]);
  g.output(g.op("Gemm", [p, g.weight([4, 16]), g.weight([4])], { transB: 1 }));
  return encodeBytes(ModelProtoSchema, g.model().proto);
}

async function cli(...argv: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("CLI: scalpel groups / prune", function () {
  this.timeout(120_000);
  let dir: string, model: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-prune-cli-"));
    model = path.join(dir, "cnn.onnx");
    fs.writeFileSync(model, cnn());
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("groups prints the table, and --json the analysis", async () => {
    const t = await cli("groups", model);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /2 groups \(1 prunable, 1 frozen\)/);
    assert.match(t.out, /reaches graph output/);
    const j = await cli("groups", model, "--json");
    const a = JSON.parse(j.out) as GroupAnalysis;
    assert.equal(a.groups.length, 2);
    assert.equal(a.groups[0]!.units, 16);
  });

  it("prune writes a valid smaller model, reports before/after and the random baseline; the plan applies again", async () => {
    const out = path.join(dir, "p.onnx"), planFile = path.join(dir, "plan.json");
    const r = await cli("prune", model, "--ratio", "0.5", "--out", out, "--save-plan", planFile, "--criterion", "l2", "--round-to", "4");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /params .*-/);
    assert.match(r.out, /ORT latency/);
    assert.match(r.out, /random baseline/);
    assert.equal(onnxChecker(out), undefined);
    const plan = JSON.parse(fs.readFileSync(planFile, "utf8")) as Plan;
    assert.equal(plan.criterion, "l2");
    assert.equal(plan.groups[0]!.prune.length, 8);
    const again = path.join(dir, "again.onnx");
    const r2 = await cli("prune", model, "--plan", planFile, "--out", again, "--no-latency", "--json");
    assert.equal(r2.code, 0, r2.err);
    assert.deepEqual(fs.readFileSync(again), fs.readFileSync(out), "same plan, same bytes");
    assert.equal(JSON.parse(r2.out).verify.ok, true);
  });

  it("bad input: a clear message and exit code 2", async () => {
    const out = path.join(dir, "x.onnx");
    fs.writeFileSync(out, "exists");
    const cases: [string[], RegExp][] = [
      [["prune", model, "--ratio", "0.5", "--out", out], /already exists/],
      [["prune", model, "--ratio", "1.5", "--out", path.join(dir, "y.onnx")], /--ratio/],
      [["prune", model, "--out", path.join(dir, "y.onnx")], /--ratio R/],
      [["prune", model, "--ratio", "0.5"], /--out FILE is required/],
      [["prune", model, "--ratio", "0.5", "--criterion", "magic", "--out", path.join(dir, "y.onnx")], /unknown criterion 'magic'/],
      [["prune", model, "--plan", path.join(dir, "missing.json"), "--out", path.join(dir, "y.onnx")], /missing\.json.*not a readable plan/],
      [["groups", path.join(dir, "none.onnx")], /file not found/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.err}`);
      assert.match(r.err, re);
    }
    assert.ok(!fs.existsSync(path.join(dir, "y.onnx")));
  });

  it("a large --json output reaches a pipe whole (the process waits for stdout before exiting)", function () {
    const file = torchvisionModel("resnet18", "op13-bn");
    if (!file) this.skip();
    const r = spawnSync(process.execPath, ["bin/scalpel.js", "groups", file!, "--json"], { encoding: "utf8", maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.length > 1 << 17, `${r.stdout.length} bytes`);
    assert.equal((JSON.parse(r.stdout) as GroupAnalysis).groups.length, 13);
  });
});
