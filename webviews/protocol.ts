/**
 * THE message protocol between the extension host (or any host: the CLI's HTML report, the test
 * server) and the webviews. Both sides import only types from here, plus the two tiny type guards.
 *
 * Shape of the conversation (all messages are plain JSON, sent with `postMessage`):
 *
 *   webview → host  { kind: "request", id, method, params }      ask one ExplorerApi method
 *   host → webview  { kind: "response", id, ok: true, result }   its answer (same id)
 *                   { kind: "response", id, ok: false, error }   or why it failed (message text)
 *   webview → host  { kind: "cancel", id }                       the answer is no longer wanted
 *   host → webview  { kind: "event", event: HostEvent }          pushes: reveal a node, overlays changed…
 *   webview → host  { kind: "event", event: WebviewEvent }       notifications: ready, selection…
 *
 * Cancel: the webview sends `cancel` when it no longer wants an answer (the user selected another node
 * while statistics were computing, typed on in the search field, …) and forgets the request at once.
 * The host aborts the work if it can (`ExplorerRequests` + the AbortSignal of `answerRequest`; long
 * statistics stop between chunks) and still answers once, with `ok: false, error: "cancelled"`, which
 * the webview ignores. Over HTTP (test server) the webview aborts its fetch instead. Layouts run in the
 * webview's own worker and are cancelled there (a collapsed group's pending ELK job is dropped).
 *
 * Methods and their parameter/result types are `ExplorerApi` in analyzers/explorer/types.ts (the
 * explorer's view model); `ExplorerSession` there answers them, and `answerRequest` (analyzers/explorer/
 * host.ts) turns a request message into a response message. Request ids are chosen by the webview
 * (increasing integers); the host answers each exactly once, in any order.
 *
 * Hosting recipe (VS Code):
 *   const session = await openExplorerSession(path)            // analyzers/explorer/index.ts
 *   panel.webview.html = explorerWebviewHtml({...})           // webviews/explorer/page.ts
 *   panel.webview.onDidReceiveMessage(m => isRequest(m) && answerRequest(session, m).then(r => panel.webview.postMessage(r)))
 *   panel.webview.postMessage({ kind: "event", event: { type: "reveal", name } })
 *
 * Compatibility: add methods and optional fields; never change the meaning of an existing one.
 * PROTOCOL_VERSION changes only for a breaking change.
 */
import type { ExplorerMethod, ExplorerParams, ExplorerResult, ItemId, OverlayInfo } from "../analyzers/explorer/types.ts";

export type * from "../analyzers/explorer/types.ts";

export const PROTOCOL_VERSION = 1;

export interface RequestMessage<M extends ExplorerMethod = ExplorerMethod> {
  kind: "request";
  id: number;
  method: M;
  params: ExplorerParams<M>;
}

export type ResponseMessage<M extends ExplorerMethod = ExplorerMethod> =
  | { kind: "response"; id: number; ok: true; result: ExplorerResult<M> }
  | { kind: "response"; id: number; ok: false; error: string };

export interface CancelMessage {
  kind: "cancel";
  id: number;
}

/** Host → webview pushes. */
export type HostEvent =
  /** Centre and select a node or group: by item id, node name, dotted module path or tensor name. */
  | { type: "reveal"; id?: ItemId; name?: string; module?: string; tensor?: string }
  /** The overlay list changed (a plan or scores arrived); `show` makes one active. */
  | { type: "overlays"; overlays: OverlayInfo[]; show?: string | null }
  /** Switch the active overlay (null: none). */
  | { type: "showOverlay"; id: string | null }
  /** The model changed on disk: drop caches and reload from `model`. */
  | { type: "reload" };

/** Webview → host notifications. */
export type WebviewEvent =
  /** The webview has loaded and will send requests. */
  | { type: "ready"; protocol: number }
  /** The user selected an item (null: selection cleared). */
  | { type: "selected"; id: ItemId | null; name?: string; module?: string }
  /** The first screen is painted (timing for logs and benchmarks, ms since the page started). */
  | { type: "painted"; ms: number }
  /** Something failed in the webview; the host logs it. */
  | { type: "error"; message: string };

export interface HostEventMessage {
  kind: "event";
  event: HostEvent;
}

export interface WebviewEventMessage {
  kind: "event";
  event: WebviewEvent;
}

export type ToWebview = ResponseMessage | HostEventMessage;
export type ToHost = RequestMessage | CancelMessage | WebviewEventMessage;

export function isRequest(m: unknown): m is RequestMessage {
  return typeof m === "object" && m !== null && (m as RequestMessage).kind === "request" && typeof (m as RequestMessage).id === "number";
}

export function isWebviewEvent(m: unknown): m is WebviewEventMessage {
  return typeof m === "object" && m !== null && (m as WebviewEventMessage).kind === "event";
}
