/**
 * One error type for every problem a user can cause with their input: a bad file, a missing side file,
 * an unsupported pattern. It always names the file and the problem, so the CLI and the extension can
 * show it as one clear line; `cause` keeps the low-level error for --verbose / "Show details".
 */
export class ScalpelError extends Error {
  override readonly name = "ScalpelError";
  constructor(
    /** The file the problem is about (model, side file, plan); may be a display name for in-memory bytes. */
    readonly file: string,
    /** What is wrong, in one sentence, without the file name. */
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
  }
}

export function isScalpelError(e: unknown): e is ScalpelError {
  return e instanceof ScalpelError;
}

/** Short text of any thrown value, for wrapping low-level errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
