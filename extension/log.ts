/**
 * The "ONNX Scalpel" Output channel: every operation logs its start, end and duration, and every error
 * its full details (the notification shows one line and links here via "Show details").
 */
import * as vscode from "vscode";

export class Log implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;

  constructor(name = "ONNX Scalpel") {
    this.channel = vscode.window.createOutputChannel(name, { log: true });
  }

  /** Test runs mirror the channel to the console (the launcher's log), see scripts/vscode-test. */
  private readonly mirror = process.env.SCALPEL_LOG_CONSOLE === "1";

  info(message: string): void {
    this.channel.info(message);
    if (this.mirror) console.log(`[scalpel] ${message}`);
  }

  warn(message: string): void {
    this.channel.warn(message);
    if (this.mirror) console.log(`[scalpel warn] ${message}`);
  }

  error(message: string): void {
    this.channel.error(message);
    if (this.mirror) console.log(`[scalpel error] ${message}`);
  }

  /** Runs `fn` as a named operation: logged when it starts and when it ends, with its duration. */
  async operation<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    this.info(`${name}: started`);
    try {
      const result = await fn();
      this.info(`${name}: done in ${formatMs(performance.now() - start)}`);
      return result;
    } catch (e) {
      this.info(`${name}: ${isCancelled(e) ? "cancelled" : "failed"} after ${formatMs(performance.now() - start)}`);
      throw e;
    }
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Cancellation by the user: not an error, never a notification. */
export class Cancelled extends Error {
  override readonly name = "Cancelled";
  constructor(message = "cancelled") {
    super(message);
  }
}

export function isCancelled(e: unknown): boolean {
  return e instanceof Cancelled || (e instanceof Error && (e.name === "Cancelled" || e instanceof vscode.CancellationError));
}
