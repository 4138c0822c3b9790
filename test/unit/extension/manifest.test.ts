import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "../../../package.json"), "utf8")) as {
  activationEvents: string[];
  contributes: { customEditors: { viewType: string }[]; views: Record<string, { id: string }[]> };
};

describe("extension manifest: lazy activation", () => {
  it("never activates at startup or on a language (Python files only matter once a model is associated)", () => {
    for (const e of pkg.activationEvents) {
      assert.ok(!["*", "onStartupFinished"].includes(e), `eager activation event ${e}`);
      assert.ok(!e.startsWith("onLanguage:"), `${e}: a language activates the extension in every workspace`);
    }
  });

  it("activates on its custom editor, its view and workspaces holding models or plans", () => {
    const allowed = new Set([
      ...pkg.contributes.customEditors.map((c) => `onCustomEditor:${c.viewType}`),
      ...Object.values(pkg.contributes.views).flat().map((v) => `onView:${v.id}`),
      "workspaceContains:**/*.onnx",
      "workspaceContains:**/*.prune.json",
    ]);
    for (const e of pkg.activationEvents) assert.ok(allowed.has(e), `unexpected activation event ${e}`);
    assert.ok(pkg.activationEvents.includes("onCustomEditor:onnxScalpel.modelViewer"));
  });
});
