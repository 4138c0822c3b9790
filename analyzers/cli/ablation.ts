/** `scalpel ablate` and `scalpel af1`: the ablation module parses its own flags (see analyzers/ablation/cli.ts). */
import { runAblateCommand, runAf1Command } from "../ablation/cli.ts";
import type { Command } from "./command.ts";

const raw = (name: string, summary: string, usage: string, fn: typeof runAblateCommand): Command => ({
  name,
  summary,
  usage,
  options: {},
  run: async () => 2,
  runRaw: (argv, io) => fn(argv, io),
});

export const ablateCommand = raw(
  "ablate",
  "CAMA, ABP, knockout, zero/mean/resample ablations of a transformer LM on arithmetic tasks",
  "scalpel ablate MODEL --method cama|abp|knockout|zero|mean|resample [--task add|sub|…] [--layers …] [--sink bos|first|none] [--json]",
  runAblateCommand,
);
export const af1Command = raw(
  "af1",
  "search the all-for-one subgraph (L_wait, L_transfer) of a transformer LM",
  "scalpel af1 MODEL [--task …] [--tau 0.9] [--sink bos|first|none] [--json]",
  runAf1Command,
);
