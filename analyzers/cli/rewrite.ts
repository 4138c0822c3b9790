import { closeModel, loadModel } from "../onnx/model.ts";
import { saveModel, type ExternalDataMode } from "../onnx/save.ts";
import { human } from "../report/inspect.ts";
import { requireModelArg, UsageError, type Command } from "./command.ts";

export const rewriteCommand: Command = {
  name: "rewrite",
  summary: "load and save a model (byte-identical when untouched); move weights into or out of an external-data file",
  usage: "scalpel rewrite MODEL --out FILE [--external-data FILE.data [--threshold BYTES] | --internal] [--force]",
  options: {
    out: { type: "string" },
    "external-data": { type: "string" },
    threshold: { type: "string" },
    internal: { type: "boolean" },
    force: { type: "boolean" },
  },
  async run(args, io) {
    const file = requireModelArg(args, this.usage);
    const out = args.values.out as string | undefined;
    if (!out) throw new UsageError(`--out FILE is required\nusage: ${this.usage}`);
    const ext = args.values["external-data"] as string | undefined;
    if (ext && args.values.internal) throw new UsageError("--external-data and --internal exclude each other");
    const threshold = Number(args.values.threshold ?? 1024);
    if (!Number.isFinite(threshold) || threshold < 0) throw new UsageError(`--threshold must be a number of bytes, got '${args.values.threshold}'`);
    const mode: ExternalDataMode | undefined = ext ? { kind: "external", location: ext, threshold } : args.values.internal ? { kind: "internal" } : undefined;
    const model = loadModel(file);
    try {
      const r = saveModel(model, out, { overwrite: !!args.values.force, externalData: mode });
      io.out(`wrote ${r.path} (${human(r.bytes, "B")})${r.externalFile ? ` + ${r.externalFile} (${human(r.externalBytes ?? 0, "B")})` : ""}`);
    } finally {
      closeModel(model);
    }
    return 0;
  },
};
