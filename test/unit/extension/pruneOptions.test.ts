import assert from "node:assert/strict";
import path from "node:path";
import { cliEquivalent, optionsFromSettings, outputPaths, parseRatio, type PruneOptions } from "../../../extension/prune/options.ts";

describe("prune options (wizard ↔ CLI)", () => {
  it("parses ratios as fractions or percentages, refusing 0, 100% and junk", () => {
    const cases: [string, number | undefined][] = [
      ["0.3", 0.3],
      ["30%", 0.3],
      ["30", 0.3],
      [" 12.5 % ", 0.125],
      [".5", 0.5],
      ["0", undefined],
      ["100%", undefined],
      ["1", 0.01],
      ["-0.2", undefined],
      ["abc", undefined],
      ["", undefined],
    ];
    for (const [text, want] of cases) assert.equal(parseRatio(text), want, JSON.stringify(text));
  });

  it("reads settings, falling back to safe defaults for missing or invalid values", () => {
    const settings: Record<string, unknown> = { "prune.criterion": "obspa", "prune.ratio": 0.5, "prune.roundTo": 8, "prune.protect": ["fc", 3, ""], "obspa.hessianSource": "bn" };
    const o = optionsFromSettings((k) => settings[k]);
    assert.deepEqual({ ...o }, { criterion: "obspa", hessian: "bn", calibrationFolder: undefined, ratio: 0.5, target: "channels", scope: "local", roundTo: 8, protect: ["fc"] });
    const bad = optionsFromSettings((k) => ({ "prune.criterion": "magic", "prune.ratio": 3, "prune.roundTo": 0.5, "prune.target": "flops" })[k]);
    assert.deepEqual([bad.criterion, bad.hessian, bad.ratio, bad.roundTo, bad.target], ["l1", undefined, 0.3, 1, "channels"]);
  });

  it("writes outputs beside the model and spells the same run as a CLI command", () => {
    const model = path.join("/data", "my models", "resnet18.onnx");
    const out = outputPaths(model);
    assert.deepEqual(out, { pruned: path.join("/data", "my models", "resnet18.pruned.onnx"), plan: path.join("/data", "my models", "resnet18.prune.json") });
    const o: PruneOptions = { criterion: "obspa", hessian: "calibration", calibrationFolder: "/data/calib", ratio: 0.5, target: "macs", scope: "global", roundTo: 8, protect: ["fc", "layer4.1"] };
    assert.equal(
      cliEquivalent(model, o),
      "scalpel prune '/data/my models/resnet18.onnx' --ratio 0.5 --target macs --criterion obspa --hessian calibration --calib /data/calib --scope global --round-to 8 --protect fc --protect layer4.1 --out '/data/my models/resnet18.pruned.onnx' --save-plan '/data/my models/resnet18.prune.json'",
    );
    assert.doesNotMatch(cliEquivalent(model, { ...o, criterion: "l2", hessian: undefined, roundTo: 1, protect: [] }), /--hessian|--round-to|--protect/);
  });
});
