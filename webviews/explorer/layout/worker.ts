/**
 * The layout worker: runs ELK's layered algorithm for one group at a time. Started from a Blob URL
 * (the webview's CSP allows `worker-src blob:`); where workers are refused it runs on the main thread
 * with a stand-in scope (see client.ts). Messages: { id, req: LayoutRequest } → { id, layout } | { id, error }.
 */
import * as elkModule from "elkjs/lib/elk.bundled.js";
import type { ELK as ElkApi } from "elkjs/lib/elk-api.js";
import { fromElk, toElk, type LayoutRequest } from "./elkGraph.ts";

interface Scope {
  postMessage(m: unknown): void;
  onmessage: ((e: { data: { id: number; req: LayoutRequest } }) => void) | null;
}

const scope: Scope = (globalThis as { __scalpelLayoutScope?: Scope }).__scalpelLayoutScope ?? (self as unknown as Scope);
// A CommonJS module: its constructor is module.exports (esbuild) or .default (type view).
const ELK = ((elkModule as { default?: unknown }).default ?? elkModule) as new () => ElkApi;
const elk = new ELK();

scope.onmessage = (e) => {
  const { id, req } = e.data;
  const t0 = performance.now();
  elk
    .layout(toElk(req))
    .then((g) => scope.postMessage({ id, layout: fromElk(req, g, performance.now() - t0) }))
    .catch((err: unknown) => scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) }));
};
