#!/usr/bin/env node
/**
 * `scalpel`: the engine, headless. Every command is a module under cli/ registered below; the extension
 * calls the same engine functions. Bad input → one line naming the file and the problem, exit code 2;
 * stack traces only with --verbose.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { isScalpelError } from "./onnx/errors.ts";
import { EXIT_INPUT, EXIT_INTERNAL, UsageError, type CliIO, type Command } from "./cli/command.ts";
import { inspectCommand } from "./cli/inspect.ts";
import { rewriteCommand } from "./cli/rewrite.ts";
import { ablateCommand, af1Command } from "./cli/ablation.ts";
import { groupsCommand } from "./cli/groups.ts";
import { pruneCommand } from "./cli/prune.ts";
import { accuracyCommand } from "./cli/accuracy.ts";

export const commands: Command[] = [inspectCommand, rewriteCommand, groupsCommand, pruneCommand, accuracyCommand, ablateCommand, af1Command];

export function registerCommand(c: Command): void {
  commands.push(c);
}

const stdio: CliIO = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : t + "\n"),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : t + "\n"),
};

function help(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return ["usage: scalpel COMMAND [options]   (--verbose shows stack traces)", "", ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`)].join("\n");
}

export async function main(argv: string[], io: CliIO = stdio): Promise<number> {
  const verbose = argv.includes("--verbose");
  const rest = argv.filter((a) => a !== "--verbose");
  const [name, ...args] = rest;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(help());
    return name ? 0 : EXIT_INPUT;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`scalpel: unknown command '${name}'\n\n${help()}`);
    return EXIT_INPUT;
  }
  try {
    if (args.includes("--help") || args.includes("-h")) {
      io.out(`usage: ${cmd.usage}\n\n${cmd.summary}`);
      return 0;
    }
    if (cmd.runRaw) return await cmd.runRaw(args, io);
    const parsed = parseArgs({ args, options: cmd.options, allowPositionals: true, strict: true });
    return await cmd.run({ positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | undefined> }, io);
  } catch (e) {
    if (isScalpelError(e)) {
      io.err(`scalpel: ${e.message}`);
      if (verbose) io.err(String((e.cause as Error | undefined)?.stack ?? e.stack));
      return EXIT_INPUT;
    }
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`scalpel ${name}: ${(e as Error).message}`);
      return EXIT_INPUT;
    }
    io.err(`scalpel: internal error: ${(e as Error)?.message ?? e}${verbose ? `\n${(e as Error)?.stack}` : "\n(run with --verbose for details)"}`);
    return EXIT_INTERNAL;
  }
}

const invokedDirectly = !!process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
/** Exits once stdout has flushed: process.exit right after a large write to a pipe truncates it at 64 KiB. */
export function exitAfterFlush(code: number): void {
  process.exitCode = code;
  process.stdout.write("", () => process.exit(code));
}

if (invokedDirectly) main(process.argv.slice(2)).then(exitAfterFlush);
