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

export async function answerRequest(session: ExplorerSession, m: HostRequest): Promise<HostResponse> {
  try {
    if (!METHODS.has(m.method)) throw new Error(`unknown method '${String(m.method)}'`);
    const fn = session[m.method] as (p: unknown) => unknown;
    const result = await fn.call(session, m.params ?? {});
    return { kind: "response", id: m.id, ok: true, result: result as ExplorerResult<ExplorerMethod> };
  } catch (e) {
    return { kind: "response", id: m.id, ok: false, error: describeError(e) };
  }
}
