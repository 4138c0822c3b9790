import { analyzeModel } from "../analysis.ts";
import { findGroups } from "../pruning/groups/index.ts";
import { formatGroups } from "../pruning/report.ts";
import { requireModelArg, type Command } from "./command.ts";

export const groupsCommand: Command = {
  name: "groups",
  summary: "dependency groups: coupled channels that prune together, with what is frozen and why",
  usage: "scalpel groups MODEL [--json] [--top N]",
  options: { json: { type: "boolean" }, top: { type: "string" } },
  async run(args, io) {
    const file = requireModelArg(args, this.usage);
    const a = await analyzeModel(file);
    const groups = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    io.out(args.values.json ? JSON.stringify(groups) : formatGroups(groups, Number(args.values.top ?? 40)));
    a.model.external.close();
    return 0;
  },
};
