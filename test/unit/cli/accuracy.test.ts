import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { main } from "../../../analyzers/cli.ts";
import { FASHION_MNIST_DIR, readMnistSplit, takeImages } from "../../../analyzers/data/idx.ts";

const demoDir = path.resolve("test/fixtures/demo");
const demoModel = path.join(demoDir, "fashion_cnn.onnx");
const meta = JSON.parse(fs.readFileSync(path.join(demoDir, "fashion_cnn.json"), "utf8"));
const pre = ["--mean", String(meta.input.mean), "--std", String(meta.input.std)];

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => (out += t + "\n"), err: (t) => (err += t + "\n") });
  return { code, out, err };
}

describe("CLI accuracy", function () {
  this.timeout(120_000);

  it("measures on Debian's 10k Fashion-MNIST test images exactly the accuracy torch measured", async function () {
    if (!fs.existsSync(FASHION_MNIST_DIR)) this.skip(); // installed by npm run fixtures
    const r = await run("accuracy", demoModel, "--images", FASHION_MNIST_DIR, ...pre, "--json");
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out).results[0];
    assert.equal(res.total, meta.test_images);
    assert.equal(res.correct, meta.models.bn.correct);
  });

  it("the bundled demo images are the first 1,000 of the test split, and two models are compared side by side", async function () {
    const bundled = readMnistSplit(demoDir, "test");
    assert.equal(bundled.count, 1000);
    if (fs.existsSync(FASHION_MNIST_DIR)) {
      const first = takeImages(readMnistSplit(FASHION_MNIST_DIR, "test"), 1000);
      assert.deepEqual(bundled.labels, first.labels);
      assert.deepEqual(bundled.pixels, first.pixels);
    }
    const r = await run("accuracy", demoModel, demoModel, "--images", demoDir, ...pre, "--limit", "200");
    assert.equal(r.code, 0, r.err);
    const rows = r.out.split("\n").filter((l) => l.includes("fashion_cnn.onnx"));
    assert.equal(rows.length, 2);
    assert.match(rows[1]!, /\+0\.0 pts/);
    assert.match(r.out, /^200 test images/);
  });

  it("refuses undeclared preprocessing and a folder without IDX files, naming the file", async () => {
    const noStd = await run("accuracy", demoModel, "--images", demoDir, "--mean", "0.3");
    assert.equal(noStd.code, 2);
    assert.match(noStd.err, /--std is required/);
    const noImages = await run("accuracy", demoModel, "--images", path.resolve("test/unit"), ...pre);
    assert.equal(noImages.code, 2);
    assert.match(noImages.err, /t10k-images-idx3-ubyte\.gz: does not exist/);
  });
});
