/** The ONNX backend test corpus as plain paths (see test/fixtures/paths.ts for the full description). */
import { onnxTestdataModels } from "../fixtures/paths.ts";

export function corpusModels(): string[] {
  return onnxTestdataModels().map((m) => m.model);
}

/** Input/output .pb files of a corpus model's first test data set, in slot order. */
export function testDataSet(modelPath: string): { inputs: string[]; outputs: string[] } | undefined {
  return onnxTestdataModels().find((m) => m.model === modelPath)?.dataSets[0];
}
