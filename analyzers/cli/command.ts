/** What a CLI command is: its flags (node:util parseArgs) and an async run returning the exit code. */
import type { ParseArgsConfig } from "node:util";

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  run(args: ParsedArgs, io: CliIO): Promise<number>;
  /** Commands that parse their own flags get the raw arguments instead. */
  runRaw?(argv: string[], io: CliIO): Promise<number>;
}

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

/** Exit codes: 0 ok, 1 internal error, 2 bad input or usage (a clear message was printed). */
export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_INPUT = 2;

export class UsageError extends Error {}

export function requireModelArg(args: ParsedArgs, usage: string): string {
  const m = args.positionals[0];
  if (!m) throw new UsageError(`missing MODEL\nusage: ${usage}`);
  return m;
}
