/**
 * The host's side of the protocol in one function: a request message in, a response message out
 * (errors become `ok: false` with the message, never an exception). Used by the VS Code extension
 * and the test server alike.
 */
import { describeError } from "../onnx/errors.ts";
import type { ExplorerMethod, ExplorerResult } from "./types.ts";
import type { ExplorerSession } from "./session.ts";

/** Structurally the RequestMessage / ResponseMessage of webviews/protocol.ts (analyzers import nothing from webviews). */
export interface HostRequest {
  id: number;
  method: ExplorerMethod;
  params: unknown;
}
export type HostResponse =
  | { kind: "response"; id: number; ok: true; result: ExplorerResult<ExplorerMethod> }
  | { kind: "response"; id: number; ok: false; error: string };

const METHODS = new Set<ExplorerMethod>(["model", "group", "node", "tensorStats", "search", "locate", "overlayValues", "overlayMembers", "overlayMatrix"]);

/** The error text of a response to a request the webview cancelled (it ignores such answers). */
export const CANCELLED = "cancelled";

/**
 * `signal` aborts the work when the webview cancels the request (`{ kind: "cancel", id }`): the answer is
 * then `ok: false` with the error "cancelled". Methods that take long (tensorStats on a big tensor) honour
 * it between steps; the quick ones finish anyway.
 */
export async function answerRequest(session: ExplorerSession, m: HostRequest, signal?: AbortSignal): Promise<HostResponse> {
  try {
    if (!METHODS.has(m.method)) throw new Error(`unknown method '${String(m.method)}'`);
    signal?.throwIfAborted();
    const fn = session[m.method] as (p: unknown, signal?: AbortSignal) => unknown;
    const result = await fn.call(session, m.params ?? {}, signal);
    signal?.throwIfAborted();
    return { kind: "response", id: m.id, ok: true, result: result as ExplorerResult<ExplorerMethod> };
  } catch (e) {
    if (signal?.aborted) return { kind: "response", id: m.id, ok: false, error: CANCELLED };
    return { kind: "response", id: m.id, ok: false, error: describeError(e) };
  }
}

/**
 * In-flight requests of one webview, so that a `cancel` message reaches the work it names. A host keeps
 * one per webview: `begin(id)` when a request arrives (its signal goes to answerRequest), `end(id)` once
 * answered, `cancel(id)` on the webview's cancel message.
 */
export class ExplorerRequests {
  private readonly inflight = new Map<number, AbortController>();

  begin(id: number): AbortSignal {
    const c = new AbortController();
    this.inflight.set(id, c);
    return c.signal;
  }

  end(id: number): void {
    this.inflight.delete(id);
  }

  /** True when the request was still in flight. */
  cancel(id: number): boolean {
    const c = this.inflight.get(id);
    if (!c) return false;
    this.inflight.delete(id);
    c.abort(new Error(CANCELLED));
    return true;
  }

  /** Cancels everything (the webview went away). */
  cancelAll(): void {
    for (const id of [...this.inflight.keys()]) this.cancel(id);
  }

  get size(): number {
    return this.inflight.size;
  }
}
