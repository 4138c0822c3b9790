import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {
  asksVarianceCorrection,
  cliEquivalent,
  optionsFromSettings,
  outputPaths,
  parseRatio,
  VARIANCE_CORRECTIONS,
  varianceCorrectionOption,
  type PruneOptions,
} from "../../../extension/prune/options.ts";

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
    assert.deepEqual({ ...o }, { criterion: "obspa", hessian: "bn", calibrationFolder: undefined, varianceCorrection: "auto", ratio: 0.5, target: "channels", scope: "local", roundTo: 8, protect: ["fc"] });
    assert.equal(optionsFromSettings((k) => ({ ...settings, "obspa.varianceCorrection": "off" })[k]).varianceCorrection, "off");
    assert.equal(optionsFromSettings((k) => ({ ...settings, "obspa.varianceCorrection": true })[k]).varianceCorrection, "auto");
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

  it("maps the variance-correction choice to the engine's option and the CLI flags", () => {
    const model = "/m/net.onnx";
    const o: PruneOptions = { criterion: "obspa", hessian: "bn", ratio: 0.3, target: "channels", scope: "local", roundTo: 1, protect: [] };
    const flags = (x: PruneOptions) => cliEquivalent(model, x).split(" ").filter((a) => /variance/.test(a));
    assert.deepEqual([varianceCorrectionOption({ ...o, varianceCorrection: "on" }), flags({ ...o, varianceCorrection: "on" })], [true, ["--variance-correction"]]);
    assert.deepEqual([varianceCorrectionOption({ ...o, varianceCorrection: "off" }), flags({ ...o, varianceCorrection: "off" })], [false, ["--no-variance-correction"]]);
    // "auto" (or nothing) leaves the engine's default: no flag.
    for (const vc of ["auto", undefined] as const) assert.deepEqual([varianceCorrectionOption({ ...o, varianceCorrection: vc }), flags({ ...o, varianceCorrection: vc })], [undefined, []]);
    // Not asked with the identity source, nor for another criterion: the engine decides (or it does not apply).
    assert.ok(asksVarianceCorrection(o) && asksVarianceCorrection({ criterion: "obspa" }) && !asksVarianceCorrection({ criterion: "obspa", hessian: "identity" }));
    for (const x of [{ ...o, hessian: "identity" }, { ...o, criterion: "l1", hessian: undefined }] as PruneOptions[]) {
      assert.equal(asksVarianceCorrection(x), false);
      assert.equal(varianceCorrectionOption({ ...x, varianceCorrection: "off" }), undefined);
      assert.deepEqual(flags({ ...x, varianceCorrection: "off" }), []);
    }
    // The flag sits with the other OBSPA flags.
    assert.match(cliEquivalent(model, { ...o, hessian: "calibration", calibrationFolder: "/c", varianceCorrection: "off" }), / --hessian calibration --calib \/c --no-variance-correction --scope local /);
  });

  it("offers the same variance-correction values in the settings as the wizard", () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "../../../package.json"), "utf8")) as {
      contributes: { configuration: { properties: Record<string, { enum?: string[]; default?: unknown }> } };
    };
    const setting = pkg.contributes.configuration.properties["scalpel.obspa.varianceCorrection"];
    assert.deepEqual(setting?.enum, [...VARIANCE_CORRECTIONS]);
    assert.equal(setting?.default, "auto");
  });
});
