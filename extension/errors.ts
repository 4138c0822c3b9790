/**
 * Errors become one clear notification: a ScalpelError (from the engine, possibly serialised across the
 * worker boundary) shows "file: problem"; anything else shows "<action> failed: message". Each has a
 * "Show details" action opening the Output channel, where the full error (stack, cause) was logged.
 * Nothing escapes as an unhandled exception: command handlers are wrapped with `guard`.
 */
import path from "node:path";
import * as vscode from "vscode";
import { isCancelled, type Log } from "./log.ts";

/** An error as plain data (what crosses the worker boundary). */
export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
  /** ScalpelError: the file the problem is about. */
  readonly file?: string;
  /** ScalpelError: the problem, one sentence, without the file. */
  readonly problem?: string;
  readonly stack?: string;
  readonly cause?: string;
}

export function toErrorInfo(e: unknown): ErrorInfo {
  if (e && typeof e === "object") {
    const o = e as Partial<ErrorInfo> & { cause?: unknown };
    const cause = o.cause === undefined ? undefined : typeof o.cause === "string" ? o.cause : describe(o.cause);
    return {
      name: typeof o.name === "string" ? o.name : "Error",
      message: typeof o.message === "string" ? o.message : String(e),
      file: typeof o.file === "string" ? o.file : undefined,
      problem: typeof o.problem === "string" ? o.problem : undefined,
      stack: typeof o.stack === "string" ? o.stack : undefined,
      cause,
    };
  }
  return { name: "Error", message: String(e) };
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}

export function isScalpelErrorInfo(info: ErrorInfo): boolean {
  return info.name === "ScalpelError" && info.file !== undefined && info.problem !== undefined;
}

/** The one line the notification shows. */
export function notificationText(action: string, info: ErrorInfo): string {
  if (isScalpelErrorInfo(info)) return `${path.basename(info.file!)}: ${info.problem}`;
  return `${action} failed: ${info.message}`;
}

export interface ErrorReport {
  readonly action: string;
  readonly text: string;
  readonly info: ErrorInfo;
}

/** Reports errors; `onDidReport` lets tests (and the status bar) observe what the user was shown. */
export class ErrorReporter implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ErrorReport>();
  readonly onDidReport = this.emitter.event;

  constructor(private readonly log: Log) {}

  /** Logs the full error and shows one notification; cancellations are logged only. */
  report(action: string, e: unknown): void {
    if (isCancelled(e)) {
      this.log.info(`${action}: cancelled by the user`);
      return;
    }
    const info = toErrorInfo(e);
    const text = notificationText(action, info);
    this.log.error(`${action}: ${info.message}`);
    if (info.stack) this.log.error(info.stack);
    if (info.cause) this.log.error(`caused by: ${info.cause}`);
    this.emitter.fire({ action, text, info });
    // Not awaited: the notification stays until dismissed; the action resolves when clicked.
    void vscode.window.showErrorMessage(text, "Show details").then(
      (choice) => {
        if (choice === "Show details") this.log.show();
      },
      () => undefined,
    );
  }

  /** Wraps a command handler so no error escapes it (the handler's result is passed through). */
  guard<A extends unknown[], R>(action: string, fn: (...args: A) => R | Promise<R>): (...args: A) => Promise<R | undefined> {
    return async (...args: A): Promise<R | undefined> => {
      try {
        return await fn(...args);
      } catch (e) {
        this.report(action, e);
        return undefined;
      }
    };
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
