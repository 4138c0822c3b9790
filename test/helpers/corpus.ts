/** The ONNX backend test corpus from Debian's libonnx-testdata: model.onnx files with their test data. */
import fs from "node:fs";
import path from "node:path";

export const CORPUS_ROOT = "/usr/share/libonnx-testdata/data";

export function corpusModels(): string[] {
  if (!fs.existsSync(CORPUS_ROOT)) throw new Error(`${CORPUS_ROOT} is missing: install Debian's libonnx-testdata (npm run fixtures does it)`);
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "model.onnx") files.push(p);
    }
  };
  walk(CORPUS_ROOT);
  return files.sort();
}

/** Input/output .pb files of a corpus model's first test data set, in slot order. */
export function testDataSet(modelPath: string): { inputs: string[]; outputs: string[] } | undefined {
  const dir = path.dirname(modelPath);
  const sets = fs.readdirSync(dir).filter((d) => d.startsWith("test_data_set")).sort();
  if (!sets.length) return undefined;
  const d0 = path.join(dir, sets[0]!);
  const list = (prefix: string) =>
    fs
      .readdirSync(d0)
      .filter((x) => x.startsWith(prefix) && x.endsWith(".pb"))
      .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
      .map((x) => path.join(d0, x));
  return { inputs: list("input_"), outputs: list("output_") };
}
