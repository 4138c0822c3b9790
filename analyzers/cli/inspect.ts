import { analyzeModel } from "../analysis.ts";
import { closeModel } from "../onnx/model.ts";
import { formatInspect, inspectReport } from "../report/inspect.ts";
import { requireModelArg, type Command } from "./command.ts";

export const inspectCommand: Command = {
  name: "inspect",
  summary: "opsets, inputs/outputs, op counts, params, MACs, biggest layers, module tree",
  usage: "scalpel inspect MODEL [--json] [--depth N] [--top N] [--no-runtime]",
  options: {
    json: { type: "boolean" },
    depth: { type: "string" },
    top: { type: "string" },
    "no-runtime": { type: "boolean" },
  },
  async run(args, io) {
    const file = requireModelArg(args, this.usage);
    const a = await analyzeModel(file, { runtimeFallback: !args.values["no-runtime"] });
    const report = inspectReport(a, Number(args.values.top ?? 10));
    io.out(args.values.json ? JSON.stringify(report, null, 2) : formatInspect(report, Number(args.values.depth ?? 2)));
    closeModel(a.model);
    return 0;
  },
};
