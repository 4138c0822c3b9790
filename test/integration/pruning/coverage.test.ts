/**
 * Pruning coverage on every torchvision image classifier exported at opset 13 (BatchNorm kept and
 * folded): 50% of the channels of every prunable group, written, run in onnxruntime, checked with
 * onnx.checker, output shape compared with torch's. Prints the table; writes it to
 * test/artifacts/prune-coverage.{txt,md,json}. Run: `npm run test:prune-coverage` (hours on 2 cores; filter
 * with PRUNE_COVERAGE_ARCHS=resnet18,swin_t and PRUNE_COVERAGE_VARIANTS=op13-bn; PRUNE_COVERAGE_MERGE=1 merges
 * the rows into the previous table, PRUNE_COVERAGE_NEW=1 runs only models not in it).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { torchvisionDir, torchvisionManifest, type ExportEntry } from "../../fixtures/paths.ts";
import { coverageMarkdown, coverageTable, coverModel, type CoverageRow } from "../../helpers/pruneCoverage.ts";

const variants = (process.env.PRUNE_COVERAGE_VARIANTS ?? "op13-bn,op13-fold").split(",");
const archs = process.env.PRUNE_COVERAGE_ARCHS?.split(",");
const ratio = Number(process.env.PRUNE_COVERAGE_RATIO ?? 0.5);
const done = process.env.PRUNE_COVERAGE_NEW && fs.existsSync("test/artifacts/prune-coverage.json")
  ? new Set((JSON.parse(fs.readFileSync("test/artifacts/prune-coverage.json", "utf8")) as CoverageRow[]).filter((r) => r.nodes > 0).map((r) => r.model))
  : new Set<string>();
const entries: ExportEntry[] = (torchvisionManifest()?.exports ?? [])
  .filter((e) => variants.includes(e.variant) && (!archs || archs.includes(e.arch)) && !done.has(`${e.variant}/${e.arch}`))
  .sort((a, b) => a.variant.localeCompare(b.variant) || (a.bytes ?? 0) - (b.bytes ?? 0));

describe(`pruning coverage: torchvision at opset 13, ${ratio * 100}% of channels`, function () {
  this.timeout(0);
  const rows: CoverageRow[] = [];
  after(() => {
    if (!rows.length) return;
    const dir0 = path.resolve("test/artifacts");
    // PRUNE_COVERAGE_MERGE=1 adds this run's rows to the previous table (re-running only new models).
    const previous = path.join(dir0, "prune-coverage.json");
    if (process.env.PRUNE_COVERAGE_MERGE && fs.existsSync(previous)) {
      const mine = new Set(rows.map((r) => r.model));
      for (const r of JSON.parse(fs.readFileSync(previous, "utf8")) as CoverageRow[]) if (!mine.has(r.model)) rows.push(r);
      const variant = (r: CoverageRow) => r.model.split("/")[0]!;
      rows.sort((a, b) => variant(a).localeCompare(variant(b)) || a.params[0] - b.params[0]);
    }
    const table = coverageTable(rows);
    console.log(`\n${table}\n`);
    const dir = path.resolve("test/artifacts");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "prune-coverage.txt"), table + "\n");
    fs.writeFileSync(path.join(dir, "prune-coverage.md"), coverageMarkdown(rows) + "\n");
    fs.writeFileSync(path.join(dir, "prune-coverage.json"), JSON.stringify(rows, null, 1) + "\n");
  });
  if (!entries.length) it("has torchvision exports to cover (run `npm run fixtures`)", () => assert.fail(`no exports in ${torchvisionDir()}`));
  for (const e of entries) {
    it(`${e.variant}/${e.arch}`, async function () {
      if (e.error || !e.path) {
        rows.push({ model: `${e.variant}/${e.arch}`, nodes: 0, groups: 0, prunableGroups: 0, frozenChannels: 0, unsupported: [], params: [0, 0], macs: [0, 0], predictedOk: false, outputShape: "", valid: false, problem: `export failed in torch: ${e.error}`, seconds: 0, analysisMs: 0 });
        this.skip();
      }
      const row = await coverModel(`${e.variant}/${e.arch}`, path.join(torchvisionDir(), e.path!), e.output?.shape, ratio);
      rows.push(row);
      console.log(`      ${row.valid ? "ok" : "FAIL"} ${row.model}: groups ${row.groups}, params ${row.params.join("→")}, MACs ${row.macs.join("→")}${row.problem ? ` — ${row.problem}` : ""}`);
      assert.ok(row.valid, row.problem);
    });
  }
});
