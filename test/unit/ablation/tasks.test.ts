import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadTokenizer } from "../../../analyzers/ablation/tokenizer.ts";
import { generatePrompts, makePrompt, taskSpec, TASKS, tokenizePrompts } from "../../../analyzers/ablation/tasks.ts";
import { attentionMask, resamplePermutation, AblationCancelled, AblationStudy } from "../../../analyzers/ablation/engine.ts";
import { AblationRunner } from "../../../analyzers/ablation/runner.ts";
import { runAblateCommand, runAf1Command, parseLayers, type CliIO } from "../../../analyzers/ablation/cli.ts";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { arithDir, arithFile } from "../../fixtures/arith/fixtures.ts";

function capture(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [], stderr: string[] = [];
  return { stdout, stderr, out: (s) => stdout.push(s), err: (s) => stderr.push(s) };
}

describe("ablation: tasks, tokenizers, masks, CLI", function () {
  this.timeout(3 * 3600 * 1000);
  before(() => arithDir());

  it("the Hugging Face tokenizer.json (tokenizers.js) and the char vocabulary give the same ids", () => {
    const a = loadTokenizer(arithFile("vocab.json")), b = loadTokenizer(arithFile("tokenizer.json"));
    assert.equal(a.kind, "char");
    assert.equal(b.kind, "huggingface");
    assert.deepEqual(a.bos, b.bos);
    for (const s of ["12+34=", "99-1=", "What is 5 plus 77? ", "1+2+3="]) assert.deepEqual(b.encode(s), a.encode(s), s);
  });

  it("generates distinct, seeded prompts with correct answers for every built-in task", () => {
    for (const name of Object.keys(TASKS)) {
      const t = taskSpec(name);
      const p = generatePrompts(t, { n: 300, seed: 3 });
      assert.equal(p.length, 300);
      assert.equal(new Set(p.map((x) => x.text)).size, 300, `${name}: distinct`);
      assert.deepEqual(generatePrompts(t, { n: 300, seed: 3 }), p, `${name}: seeded`);
      for (const x of p) {
        assert.ok(x.operands.every((o) => o >= 1 && o <= 99));
        const [a, b, c] = x.operands as number[];
        const want = { add: a! + b!, sub: a! - b!, add3: a! + b! + c!, addsub3: a! + b! - c!, words: a! + b!, "words-sub": a! - b! }[name];
        assert.equal(x.answer, String(want), x.text);
      }
    }
    assert.equal(makePrompt(TASKS.add!, [23, 45]).text, "23+45=");
    assert.equal(makePrompt(TASKS.words!, [23, 45]).text, "What is 23 plus 45? ");
    // a dense request returns every tuple exactly once
    assert.equal(new Set(generatePrompts(taskSpec("add"), { n: 100, min: 1, max: 10 }).map((x) => x.text)).size, 100);
  });

  it("groups prompts by token length and places the sink by choice", () => {
    const tok = loadTokenizer(arithFile("vocab.json"));
    const items = ["1+2=", "12+3=", "12+34=", "45+67="].map((t) => ({ text: t, answer: "0", operands: [] }));
    const bos = tokenizePrompts(items, tok);
    assert.equal(bos.sink, "bos");
    assert.equal(bos.sinkPosition, 0);
    assert.deepEqual([...bos.groups].map(([n, m]) => [n, m.length]), [[5, 1], [6, 1], [7, 2]]);
    assert.match(bos.sinkDescription, /BOS token '<bos>'/);
    assert.equal(tokenizePrompts(items, tok, "first").sinkPosition, 1);
    assert.equal(tokenizePrompts(items, tok, "none").sinkPosition, undefined);
  });

  it("refuses --sink bos for a tokenizer without a BOS token", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-tok-"));
    const f = path.join(dir, "vocab.json");
    fs.writeFileSync(f, JSON.stringify({ type: "char", vocab: { "1": 0, "2": 1, "+": 2, "=": 3 } }));
    const tok = loadTokenizer(f);
    assert.equal(tok.bos, undefined);
    const items = [{ text: "1+1=", answer: "2", operands: [] }];
    assert.throws(() => tokenizePrompts(items, tok, "bos"), /has no BOS token; choose --sink first/);
    const first = tokenizePrompts(items, tok);
    assert.equal(first.sink, "first");
    assert.equal(first.sinkPosition, 0);
    assert.equal(first.bosPrepended, false);
    assert.throws(() => tokenizePrompts([{ text: "3+1=", answer: "4", operands: [] }], tok), /character '3' \(in "3\+1="\) is not in the vocabulary/);
  });

  it("builds ABP transfer/self and knockout masks as specified", () => {
    const n = 4, I = -Infinity;
    // transfer: non-last rows see only sink (0) and self; the last row sees everything
    assert.deepEqual(Array.from(attentionMask("transfer", n, 0)), [0, I, I, I, 0, 0, I, I, 0, I, 0, I, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(attentionMask("self", n, 0)).slice(12), [0, I, I, 0]);
    assert.deepEqual(Array.from(attentionMask("self", n, undefined)).slice(12), [I, I, I, 0]);
    assert.deepEqual(Array.from(attentionMask({ knockout: [1] }, n, 0)), [...new Array(12).fill(0), 0, I, 0, 0]);
    assert.deepEqual(Array.from(attentionMask({ knockout: "others" }, n, 0)).slice(12), [0, I, I, 0]);
  });

  it("resample permutation is a seeded permutation", () => {
    const p = resamplePermutation(50, 0);
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(resamplePermutation(50, 0), p);
    assert.notDeepEqual(resamplePermutation(50, 1), p);
  });

  it("parses --layers", () => {
    assert.deepEqual(parseLayers("all", 3), [0, 1, 2, 3]);
    assert.deepEqual(parseLayers("0-2,2,3", 4), [0, 1, 2, 3]);
    assert.throws(() => parseLayers("5", 4), /outside 0…4/);
    assert.throws(() => parseLayers("x", 4), /cannot read 'x'/);
  });

  it("stops cleanly when cancelled between runs", async () => {
    const tok = loadTokenizer(arithFile("vocab.json"));
    const set = tokenizePrompts(generatePrompts(taskSpec("add"), { n: 200 }), tok);
    const runner = await AblationRunner.create(loadModel(arithFile("arith-opset14.onnx")), { threads: 1 });
    const study = await AblationStudy.prepare(runner, set, { batchSize: 32 });
    const ac = new AbortController();
    let runs = 0;
    await assert.rejects(
      study.evaluate([{ label: "a", replace: { method: "cama", layer: 2 } }, { label: "b", replace: { method: "zero", layer: 1 } }], {
        signal: ac.signal,
        onProgress: (p) => {
          runs = p.done;
          if (p.done === 3) ac.abort();
        },
      }),
      AblationCancelled,
    );
    assert.equal(runs, 3, "no run after the cancellation");
  });

  it("scalpel ablate --json reports the curve, the sink choice and the layer convention", async () => {
    const io = capture();
    const code = await runAblateCommand([arithFile("arith-opset14.onnx"), "--method", "cama", "--layers", "0-2", "--n", "120", "--json", "--quiet"], io);
    assert.equal(code, 0, io.stderr.join("\n"));
    const r = JSON.parse(io.stdout.join("\n"));
    assert.equal(r.command, "ablate");
    assert.equal(r.results.length, 3);
    assert.equal(r.results[0].faithfulness, 1, "CAMA at L=0 is the identity");
    assert.match(r.convention, /L = 0: embedding output/);
    assert.equal(r.sink.choice, "bos");
    assert.match(io.stderr.join("\n"), /attention sink: BOS token/);
    assert.equal(r.prompts, 120);
  });

  it("scalpel af1 prints the curves, the heatmap and the sink; --out writes the JSON", async () => {
    const io = capture();
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-af1-")), "af1.json");
    const code = await runAf1Command([arithFile("arith-mha.onnx"), "--n", "100", "--sink", "none", "--out", out, "--quiet"], io);
    assert.equal(code, 0, io.stderr.join("\n"));
    const text = io.stdout.join("\n");
    assert.match(text, /attention sink: none/);
    assert.match(text, /L_wait sweep \(CAMA only\)/);
    assert.match(text, /knockout heatmap/);
    const r = JSON.parse(fs.readFileSync(out, "utf8"));
    assert.equal(r.af1.lWaitCurve.length, 5);
    assert.equal(r.attentionPatterns.blocks[0], null, "fused attention hides its probabilities");
  });

  it("attention patterns of the decomposed export are per-head rows that sum to 1", async () => {
    const io = capture();
    const code = await runAblateCommand([arithFile("arith-opset14.onnx"), "--method", "abp", "--layers", "1", "--n", "50", "--pattern-prompt", "3", "--json", "--quiet"], io);
    assert.equal(code, 0, io.stderr.join("\n"));
    const p = JSON.parse(io.stdout.join("\n")).attentionPatterns;
    assert.equal(p.blocks.length, 4);
    assert.equal(p.blocks[0].length, 4, "4 heads");
    for (const row of p.blocks[2][1]) assert.ok(Math.abs(row.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-5);
    assert.equal(p.tokens[0], "<bos>");
  });

  it("CLI errors are one clear line and exit code 2", async () => {
    let io = capture();
    assert.equal(await runAblateCommand([arithFile("arith-opset14.onnx"), "--method", "blur"], io), 2);
    assert.match(io.stderr[0]!, /--method: must be one of cama, abp, knockout, zero, mean, resample/);
    io = capture();
    assert.equal(await runAblateCommand(["/nonexistent/model.onnx", "--method", "cama"], io), 2);
    assert.match(io.stderr[0]!, /no tokenizer given and none found next to the model/);
    io = capture();
    assert.equal(await runAblateCommand([arithFile("arith-opset14.onnx"), "--method", "cama", "--layers", "9", "--n", "20"], io), 2);
    assert.match(io.stderr.join("\n"), /--layers: '9' is outside 0…4/);
    io = capture();
    assert.equal(await runAf1Command([arithFile("arith-opset14.onnx"), "--tau", "2"], io), 2);
    assert.match(io.stderr[0]!, /--tau: must be a number in \(0, 1\]/);
    io = capture();
    assert.equal(await runAblateCommand([], io), 2);
  });
});
