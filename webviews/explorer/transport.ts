/**
 * How the explorer reaches its host. Three hosts speak the same protocol (webviews/protocol.ts):
 *  - VS Code: `acquireVsCodeApi().postMessage` and window "message" events;
 *  - the standalone report: the explorer index is embedded in the page and an ExplorerSession runs here;
 *  - the test/bench server: POST /rpc for requests, server-sent events on /events for pushes.
 * Also where the UI state is kept (VS Code's getState/setState, else the history entry).
 */
import { ExplorerSession } from "../../analyzers/explorer/session.ts";
import type { ExplorerIndex } from "../../analyzers/explorer/explorerIndex.ts";
import type { ExplorerMethod, ExplorerParams, ExplorerResult, ModelInfo, OverlayInput, TensorStats } from "../../analyzers/explorer/types.ts";
import { PROTOCOL_VERSION, type HostEvent, type ToWebview, type WebviewEvent } from "../protocol.ts";

export interface Transport {
  readonly kind: "vscode" | "embedded" | "http";
  /**
   * Asks the host. Aborting `signal` cancels the request (the user moved on): the promise rejects with an
   * AbortError at once, and the host is told (`{ kind: "cancel", id }`, or the HTTP request is aborted) so
   * it can drop the work.
   */
  request<M extends ExplorerMethod>(method: M, params: ExplorerParams<M>, signal?: AbortSignal): Promise<ExplorerResult<M>>;
  onEvent(cb: (e: HostEvent) => void): void;
  notify(e: WebviewEvent): void;
  getState(): unknown;
  setState(s: unknown): void;
}

/** What the standalone report embeds in `<script type="application/json" id="scalpel-data">`. */
export interface EmbeddedData {
  index: ExplorerIndex;
  overlays?: OverlayInput[];
  /** Precomputed statistics of stored weights, by tensor name. */
  stats?: Record<string, TensorStats>;
}

class VsCodeTransport implements Transport {
  readonly kind = "vscode";
  private readonly api = acquireVsCodeApi();
  private readonly pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private listeners: ((e: HostEvent) => void)[] = [];

  constructor() {
    window.addEventListener("message", (ev: MessageEvent<ToWebview>) => {
      const m = ev.data;
      if (!m || typeof m !== "object") return;
      if (m.kind === "response") {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result as never);
        else p.reject(new Error(m.error));
      } else if (m.kind === "event") for (const l of this.listeners) l(m.event);
    });
  }

  request<M extends ExplorerMethod>(method: M, params: ExplorerParams<M>, signal?: AbortSignal): Promise<ExplorerResult<M>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(cancelledError());
      this.pending.set(id, { resolve: resolve as (v: never) => void, reject });
      this.api.postMessage({ kind: "request", id, method, params });
      signal?.addEventListener(
        "abort",
        () => {
          if (!this.pending.delete(id)) return;
          this.api.postMessage({ kind: "cancel", id });
          reject(cancelledError());
        },
        { once: true },
      );
    });
  }

  onEvent(cb: (e: HostEvent) => void): void {
    this.listeners.push(cb);
  }

  notify(e: WebviewEvent): void {
    this.api.postMessage({ kind: "event", event: e });
  }

  getState(): unknown {
    return this.api.getState();
  }

  setState(s: unknown): void {
    this.api.setState(s);
  }
}

/** History-entry state: survives a reload of the same tab, starts fresh in a new one. */
abstract class PageState {
  getState(): unknown {
    return (history.state as { scalpel?: unknown } | null)?.scalpel;
  }

  setState(s: unknown): void {
    try {
      history.replaceState({ ...(history.state ?? {}), scalpel: s }, "");
    } catch {
      // Some sandboxed pages forbid history access; state then lives only as long as the page.
    }
  }
}

/** What the report embeds for the first paint, in `<script type="application/json" id="scalpel-boot">`. */
export interface EmbeddedBoot {
  /** The model with its root view (`model({ withRoot: true })`). */
  model: ModelInfo;
}

class EmbeddedTransport extends PageState implements Transport {
  readonly kind = "embedded";
  private session: Promise<ExplorerSession> | undefined;

  /**
   * `boot` answers the first paint's questions at once; the whole index (`data`, or read from the
   * page's `scalpel-data` element) is decoded and parsed on the first other question.
   */
  constructor(
    private readonly boot: EmbeddedBoot | undefined,
    private readonly data?: EmbeddedData,
  ) {
    super();
  }

  private open(): Promise<ExplorerSession> {
    return (this.session ??= (this.data ? Promise.resolve(this.data) : readEmbeddedData()).then((data) => {
      const stats = data.stats;
      return new ExplorerSession(data.index, {
        overlays: data.overlays,
        stats: stats
          ? (name) => {
              const s = stats[name];
              if (!s) throw new Error(`statistics of '${name}' were not embedded in this report`);
              return s;
            }
          : undefined,
      });
    }));
  }

  async request<M extends ExplorerMethod>(method: M, params: ExplorerParams<M>, signal?: AbortSignal): Promise<ExplorerResult<M>> {
    await Promise.resolve();
    if (signal?.aborted) throw cancelledError();
    const boot = this.boot?.model;
    if (boot && method === "model") return { ...boot, rootView: (params as { withRoot?: boolean }).withRoot ? boot.rootView : undefined } as ExplorerResult<M>;
    if (boot?.rootView && method === "group" && (params as { id: string }).id === boot.root) return boot.rootView as ExplorerResult<M>;
    const session = await this.open();
    if (signal?.aborted) throw cancelledError();
    const fn = session[method] as (p: ExplorerParams<M>) => ExplorerResult<M> | Promise<ExplorerResult<M>>;
    return fn.call(session, params);
  }

  onEvent(): void {}

  notify(e: WebviewEvent): void {
    window.dispatchEvent(new CustomEvent("scalpel-event", { detail: e }));
  }
}

/** The report's `scalpel-data` element (after the script: read once the page is parsed): JSON, or gzip + base64. */
async function readEmbeddedData(): Promise<EmbeddedData> {
  if (document.readyState === "loading") await new Promise((r) => document.addEventListener("DOMContentLoaded", r, { once: true }));
  const el = document.getElementById("scalpel-data");
  if (!el?.textContent) throw new Error("the page has no embedded model data");
  if (el.getAttribute("data-encoding") !== "gzip-base64") return JSON.parse(el.textContent) as EmbeddedData;
  if (typeof DecompressionStream !== "function") throw new Error("this browser cannot decompress the report's data (DecompressionStream is missing): open it in a current browser");
  const bin = atob(el.textContent.trim());
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return (await new Response(stream).json()) as EmbeddedData;
}

class HttpTransport extends PageState implements Transport {
  readonly kind = "http";

  constructor(private readonly base: string) {
    super();
  }

  async request<M extends ExplorerMethod>(method: M, params: ExplorerParams<M>, signal?: AbortSignal): Promise<ExplorerResult<M>> {
    if (signal?.aborted) throw cancelledError();
    let res: Response;
    try {
      res = await fetch(`${this.base}rpc`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ method, params }), signal });
    } catch (e) {
      throw signal?.aborted ? cancelledError() : e;
    }
    const body = (await res.json()) as { ok: boolean; result?: ExplorerResult<M>; error?: string };
    if (!body.ok) throw new Error(body.error ?? `request ${method} failed`);
    return body.result!;
  }

  onEvent(cb: (e: HostEvent) => void): void {
    const es = new EventSource(`${this.base}events`);
    es.onmessage = (ev) => cb(JSON.parse(ev.data) as HostEvent);
  }

  notify(e: WebviewEvent): void {
    window.dispatchEvent(new CustomEvent("scalpel-event", { detail: e }));
    void fetch(`${this.base}notify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(e) }).catch(() => undefined);
  }
}

export function pickTransport(): Transport {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="scalpel-transport"]')?.content;
  if (meta === "vscode" || (!meta && typeof acquireVsCodeApi === "function")) return new VsCodeTransport();
  const bootEl = document.getElementById("scalpel-boot");
  if (meta === "embedded" || (!meta && (bootEl || document.getElementById("scalpel-data")))) {
    return new EmbeddedTransport(bootEl?.textContent ? (JSON.parse(bootEl.textContent) as EmbeddedBoot) : undefined);
  }
  return new HttpTransport(document.querySelector<HTMLMetaElement>('meta[name="scalpel-base"]')?.content ?? "./");
}

/** The rejection of a cancelled request. */
export function cancelledError(): Error {
  return new DOMException("cancelled", "AbortError");
}

export function isCancelled(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

export const READY: WebviewEvent = { type: "ready", protocol: PROTOCOL_VERSION };
