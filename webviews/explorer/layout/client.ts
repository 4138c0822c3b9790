/**
 * Main-thread side of the layout worker: one request in flight at a time so the user's request can
 * overtake background prefetches; results cached by key (group id + sizes).
 */
import type { GroupLayout, LayoutRequest } from "./elkGraph.ts";

/** A job in flight is stopped by restarting the worker only when it would still run this long (restarting costs ELK's start-up). */
const RESTART_WORTH_MS = 300;

interface Job {
  req: LayoutRequest;
  priority: number;
  resolve: (l: GroupLayout) => void;
  reject: (e: Error) => void;
}

interface Port {
  postMessage(m: unknown): void;
  onmessage: ((e: { data: { id: number; layout?: GroupLayout; error?: string } }) => void) | null;
}

export class LayoutClient {
  private port: Port | undefined;
  private readonly cache = new Map<string, GroupLayout>();
  private readonly waiting = new Map<string, Promise<GroupLayout>>();
  private queue: Job[] = [];
  private busy: { id: number; job: Job; since: number } | undefined;
  private nextId = 1;
  /** "worker" or "main thread" (CSP refused the worker). */
  mode = "worker";
  totalMs = 0;
  count = 0;
  /** Recent ELK cost per item (ms), to predict whether a layout will come in time. */
  private msPerItem = 2;

  constructor(
    private readonly source: string,
    private readonly nonce: string | undefined,
  ) {}

  /** Jobs wait until `warmUp` (called after the first paint): ELK's start-up would slow the first paint down. */
  private started = false;

  /** Starts the worker and ELK's one-time initialisation (with the first queued job, or a tiny one). */
  warmUp(): void {
    if (this.started) return;
    this.started = true;
    if (this.queue.length) this.pump();
    else void this.layout({ key: "\u0000warm-up", items: [{ id: "a", w: 10, h: 10 }, { id: "b", w: 10, h: 10 }], edges: [{ id: "e", from: "a", to: "b" }] }, 0);
  }

  /** Puts layouts saved with the webview's state back, so a restored tab needs no ELK run. */
  seed(layouts: readonly GroupLayout[]): void {
    for (const l of layouts) if (l && typeof l.key === "string" && !this.cache.has(l.key)) this.cache.set(l.key, l);
  }

  /** Forgets every layout (the model changed). */
  clear(): void {
    this.cache.clear();
  }

  cached(key: string): GroupLayout | undefined {
    return this.cache.get(key);
  }

  /** Predicted wait for a new urgent request: the job in flight plus this one. */
  predictMs(items: number): number {
    // Until ELK has answered once it is still loading and initialising (hundreds of ms).
    if (this.count === 0 && !this.cache.size) return 1000;
    const inFlight = this.busy ? this.busy.job.req.items.length * this.msPerItem : 0;
    return inFlight + items * this.msPerItem;
  }

  /** priority: 0 = the user is waiting, 1 = prefetch. */
  layout(req: LayoutRequest, priority = 0): Promise<GroupLayout> {
    const hit = this.cache.get(req.key);
    if (hit) return Promise.resolve(hit);
    const w = this.waiting.get(req.key);
    if (w) {
      if (priority === 0) for (const j of this.queue) if (j.req.key === req.key) j.priority = 0;
      return w;
    }
    const p = new Promise<GroupLayout>((resolve, reject) => {
      this.queue.push({ req, priority, resolve, reject });
    });
    this.waiting.set(req.key, p);
    this.pump();
    return p;
  }

  private answered = false;
  /** Layouts cancelled (queued jobs dropped, or a long job stopped by restarting the worker). */
  cancelled = 0;

  /**
   * The user moved on (collapsed the group before ELK answered): a queued job is dropped; a job in
   * flight that would still take long is stopped by restarting the worker (ELK cannot be interrupted),
   * a short one is left to finish into the cache. The promise of a dropped job rejects with AbortError.
   */
  cancel(key: string): boolean {
    const i = this.queue.findIndex((j) => j.req.key === key);
    if (i >= 0) {
      const [job] = this.queue.splice(i, 1);
      this.waiting.delete(key);
      this.cancelled++;
      job!.reject(new DOMException("layout cancelled", "AbortError"));
      return true;
    }
    const busy = this.busy;
    if (!busy || busy.job.req.key !== key || this.mode !== "worker") return false;
    const left = busy.job.req.items.length * this.msPerItem - (performance.now() - busy.since);
    if (left < RESTART_WORTH_MS) return false;
    (this.port as unknown as Worker).terminate();
    this.port = undefined;
    this.busy = undefined;
    this.waiting.delete(key);
    this.cancelled++;
    busy.job.reject(new DOMException("layout cancelled", "AbortError"));
    this.pump();
    return true;
  }

  private ensurePort(): Port {
    if (this.port) return this.port;
    try {
      const url = URL.createObjectURL(new Blob([this.source], { type: "text/javascript" }));
      const w = new Worker(url);
      this.port = w as unknown as Port;
      w.onerror = (e) => {
        e.preventDefault();
        // Refused before it ever answered (a CSP without worker-src blob:): run on this thread instead.
        if (!this.answered) this.switchToMainThread();
        else this.fail(`layout worker failed: ${e.message}`);
      };
    } catch {
      this.port = this.mainThreadPort();
    }
    this.port.onmessage = (e) => this.onResult(e.data);
    return this.port;
  }

  private switchToMainThread(): void {
    (this.port as unknown as Worker | undefined)?.terminate?.();
    this.port = this.mainThreadPort();
    this.port.onmessage = (e) => this.onResult(e.data);
    if (this.busy) this.port.postMessage({ id: this.busy.id, req: this.busy.job.req });
  }

  /** Runs the worker's code on this thread with a stand-in scope, through a nonce'd script. */
  private mainThreadPort(): Port {
    this.mode = "main thread";
    const client = this;
    const inner: Port = { postMessage: () => undefined, onmessage: null };
    const scope = {
      postMessage: (m: unknown) => setTimeout(() => client.port?.onmessage?.({ data: m as { id: number } })),
      onmessage: null as Port["onmessage"],
    };
    (globalThis as { __scalpelLayoutScope?: unknown }).__scalpelLayoutScope = scope;
    const s = document.createElement("script");
    if (this.nonce) s.nonce = this.nonce;
    s.textContent = this.source;
    document.head.appendChild(s);
    inner.postMessage = (m: unknown) => setTimeout(() => (scope.onmessage as unknown as (e: { data: unknown }) => void)?.({ data: m }));
    return inner;
  }

  private pump(): void {
    if (!this.started || this.busy || this.queue.length === 0) return;
    let best = 0;
    for (let i = 1; i < this.queue.length; i++) if (this.queue[i]!.priority < this.queue[best]!.priority) best = i;
    const job = this.queue.splice(best, 1)[0]!;
    const id = this.nextId++;
    this.busy = { id, job, since: performance.now() };
    this.ensurePort().postMessage({ id, req: job.req });
  }

  private onResult(m: { id: number; layout?: GroupLayout; error?: string }): void {
    this.answered = true;
    if (!this.busy || this.busy.id !== m.id) return;
    const { job } = this.busy;
    this.busy = undefined;
    this.waiting.delete(job.req.key);
    if (m.layout) {
      this.cache.set(job.req.key, m.layout);
      this.totalMs += m.layout.ms;
      this.count++;
      const n = Math.max(1, job.req.items.length);
      if (n >= 4) this.msPerItem = 0.7 * this.msPerItem + 0.3 * (m.layout.ms / n);
      job.resolve(m.layout);
    } else job.reject(new Error(m.error ?? "layout failed"));
    this.pump();
  }

  private fail(message: string): void {
    const all = [...this.queue, ...(this.busy ? [this.busy.job] : [])];
    this.queue = [];
    this.busy = undefined;
    for (const j of all) {
      this.waiting.delete(j.req.key);
      j.reject(new Error(message));
    }
  }
}
