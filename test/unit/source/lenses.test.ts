import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { analyzeModel } from "../../../analyzers/analysis.ts";
import { inspectReport } from "../../../analyzers/report/inspect.ts";
import { attributeName, matchModules, sourceLenses, type ModuleNode } from "../../../analyzers/source/lenses.ts";
import { codeLines, moduleClasses, parsePythonClasses } from "../../../analyzers/source/python.ts";
// @ts-expect-error plain .mjs helper without types
import { ensureExtensionFixtures } from "../../fixtures/extension/ensure.mjs";

const SOURCE = path.resolve(import.meta.dirname, "../../fixtures/extension/tiny_cnn.py");

interface Facts {
  modules: Record<string, { class: string; state: number; macs: number }>;
}

describe("python source reader", () => {
  it("finds the module classes of the fixture and the lines of their attributes", () => {
    const text = fs.readFileSync(SOURCE, "utf8");
    const lines = text.split("\n");
    const classes = moduleClasses(parsePythonClasses(text));
    assert.deepEqual(classes.map((c) => c.name), ["Block", "Stem", "TinyCNN"]);
    for (const c of classes) {
      assert.match(lines[c.line]!, new RegExp(`^class ${c.name}\\(nn\\.Module\\):`));
      for (const a of c.attributes) assert.match(lines[a.line]!, new RegExp(`^\\s+self\\.${a.name} = `));
    }
    const block = classes.find((c) => c.name === "Block")!;
    assert.deepEqual(block.attributes.map((a) => [a.name, a.ctor]), [["conv1", "nn.Conv2d"], ["bn1", "nn.BatchNorm2d"], ["conv2", "nn.Conv2d"], ["bn2", "nn.BatchNorm2d"]]);
  });

  it("ignores classes and assignments inside strings and comments, follows indentation", () => {
    const src = [
      'DOC = """',
      "class Fake(nn.Module):",
      '    self.x = nn.Linear(1, 1)"""',
      "# class Commented(nn.Module):",
      "class Head(torch.nn.Module):",
      "    def __init__(self):",
      "        s = 'self.y = 1'",
      "        self.fc: nn.Linear = nn.Linear(4, 2)",
      "        self.scale = 0.5",
      "        if self.scale == 1: pass",
      "",
      "    def forward(self, x):",
      "        return self.fc(x)",
      "def helper():",
      "    self.z = 1",
      "class Base(nn.Module): pass",
      "class Child(Base):",
      "    def __init__(self): self.k = nn.ReLU()",
      "class NotAModule(object):",
      "    def __init__(self): self.a = 1",
    ].join("\n");
    assert.equal(codeLines(src)[6], "        s = \"\"");
    const all = parsePythonClasses(src);
    assert.deepEqual(all.map((c) => c.name), ["Head", "Base", "Child", "NotAModule"]);
    assert.deepEqual(all[0]!.attributes.map((a) => [a.name, a.line, a.ctor]), [["fc", 7, "nn.Linear"], ["scale", 8, ""]]);
    assert.deepEqual(moduleClasses(all).map((c) => c.name), ["Head", "Base", "Child"]);
  });
});

describe("source lenses (module paths ↔ classes)", () => {
  let facts: Facts;
  let root: ModuleNode;
  before(async function () {
    this.timeout(300_000);
    const dir = ensureExtensionFixtures();
    facts = JSON.parse(fs.readFileSync(path.join(dir, "tiny_cnn.json"), "utf8"));
    root = inspectReport(await analyzeModel(path.join(dir, "tiny_cnn.onnx"))).modules;
  });

  it("matches every composite module of the export to its torch class", () => {
    const classes = moduleClasses(parsePythonClasses(fs.readFileSync(SOURCE, "utf8")));
    const matched = matchModules(root, classes);
    const got: Record<string, string> = {};
    for (const [c, mods] of matched) for (const m of mods) got[m.module || "<root>"] = c.name;
    // torch's own answer: the class of each module defined in the file (Sequential, Conv2d... are torch's).
    const expected: Record<string, string> = { "<root>": "TinyCNN" };
    for (const [name, m] of Object.entries(facts.modules)) if (classes.some((c) => c.name === m.class)) expected[name] = m.class;
    assert.deepEqual(got, expected);
  });

  it("aggregates params and MACs per class and per attribute over the instances, as torch counts them", () => {
    const classes = moduleClasses(parsePythonClasses(fs.readFileSync(SOURCE, "utf8")));
    const lenses = sourceLenses(root, classes);
    const sum = (mods: readonly string[], key: "state" | "macs") => mods.reduce((a, m) => a + facts.modules[m]![key], 0);
    const block = lenses.classes.find((l) => l.className === "Block")!;
    const blocks = Object.keys(facts.modules).filter((m) => facts.modules[m]!.class === "Block");
    assert.deepEqual(block.modules, blocks);
    assert.equal(block.params, sum(blocks, "state"));
    assert.equal(block.macs, sum(blocks, "macs"));
    for (const a of lenses.attributes) {
      if (a.className === "TinyCNN") continue; // root attributes checked below
      assert.equal(a.params, sum(a.modules, "state"), `${a.className}.${a.attribute} params`);
      assert.equal(a.macs, sum(a.modules, "macs"), `${a.className}.${a.attribute} MACs`);
    }
    const conv1 = lenses.attributes.find((a) => a.className === "Block" && a.attribute === "conv1")!;
    assert.deepEqual(conv1.modules, blocks.map((b) => `${b}.conv1`));
    const fc = lenses.attributes.find((a) => a.className === "TinyCNN" && a.attribute === "fc")!;
    assert.deepEqual([fc.modules, fc.params, fc.macs], [["fc"], facts.modules.fc!.state, facts.modules.fc!.macs]);
  });

  it("prefers the class whose attributes fit best, and honours recorded class names", () => {
    const leaf = (module: string): ModuleNode => ({ module, params: 1, macs: 2, children: [] });
    const tree: ModuleNode = {
      module: "",
      params: 0,
      macs: 0,
      children: [{ module: "a", params: 2, macs: 4, children: [leaf("a.conv"), leaf("a.bn")] }],
    };
    const cls = (name: string, attrs: string[]) => ({ name, line: 0, bases: ["nn.Module"], attributes: attrs.map((n, i) => ({ name: n, line: i + 1, ctor: "" })) });
    const small = cls("ConvBn", ["conv", "bn"]);
    const big = cls("ConvBnAct", ["conv", "bn", "act"]);
    const other = cls("Other", ["conv"]);
    const m = matchModules(tree, [big, small, other]);
    assert.deepEqual(m.get(small)?.map((n) => n.module), ["a"]);
    assert.equal(m.get(big), undefined);
    assert.equal(m.get(other), undefined, "a class missing one of the children never matches");
    const forced = matchModules(tree, [big, small], { classOf: (mod) => (mod === "a" ? "ConvBnAct" : undefined) });
    assert.deepEqual(forced.get(big)?.map((n) => n.module), ["a"]);
    assert.equal(attributeName("layer1.0", "layer1.0.conv1"), "conv1");
    assert.equal(attributeName("", "fc"), "fc");
  });
});
