/**
 * A tiny localhost server hosting the explorer outside VS Code with a Node-side session: the page uses
 * the HTTP transport (POST /rpc, server-sent events on /events) under the same strict CSP as the VS Code
 * webview. For the browser tests, the benchmark, and `scalpel explore`.
 */
import http from "node:http";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { answerRequest, type HostRequest } from "./host.ts";
import { explorerAssetsDir, readExplorerAssets } from "./html.ts";
import { explorerWebviewHtml } from "./page.ts";
import type { ExplorerSession } from "./session.ts";

export interface ServedExplorer {
  url: string;
  /** Pushes a host event (reveal, overlays, showOverlay, reload) to every open page. */
  push(event: unknown): void;
  /** Replaces the session (e.g. after runtime shapes); pages should be sent { type: "reload" }. */
  setSession(s: ExplorerSession): void;
  /** Webview events received (ready, selected, painted, error), newest last. */
  events: unknown[];
  /** Requests the page cancelled (aborted its fetch) before they were answered, by method. */
  cancelled: string[];
  close(): Promise<void>;
}

export async function serveExplorer(session: ExplorerSession, opts: { port?: number; assetsDir?: string; title?: string; noWorkers?: boolean } = {}): Promise<ServedExplorer> {
  const assets = readExplorerAssets(opts.assetsDir ?? explorerAssetsDir());
  const clients = new Set<http.ServerResponse>();
  const events: unknown[] = [];
  const cancelled: string[] = [];
  let current = session;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method === "GET" && url.pathname === "/") {
      const nonce = randomBytes(16).toString("base64");
      const origin = `http://${req.headers.host}`;
      return send(
        200,
        "text/html; charset=utf-8",
        explorerWebviewHtml({ cspSource: origin, nonce, scriptUri: "explorer.js", styleUri: "explorer.css", codiconUri: "codicon.css", connectSrc: origin, transport: "http", title: opts.title, noWorkers: opts.noWorkers }),
      );
    }
    if (req.method === "GET" && url.pathname === "/explorer.js") return send(200, "text/javascript; charset=utf-8", assets.script);
    if (req.method === "GET" && url.pathname === "/explorer.css") return send(200, "text/css; charset=utf-8", assets.css);
    if (req.method === "GET" && url.pathname === "/codicon.css") return send(200, "text/css; charset=utf-8", assets.codiconCss);
    if (req.method === "GET" && url.pathname === "/codicon.ttf") return send(200, "font/ttf", assets.codiconFont);
    if (req.method === "GET" && url.pathname === "/events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      res.write(": connected\n\n");
      clients.add(res);
      req.on("close", () => clients.delete(res));
      return;
    }
    if (req.method === "POST" && (url.pathname === "/rpc" || url.pathname === "/notify")) {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        let body: { method?: string; params?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
        } catch {
          return send(400, "application/json", JSON.stringify({ ok: false, error: "bad JSON" }));
        }
        if (url.pathname === "/notify") {
          events.push(body);
          return send(204, "text/plain", "");
        }
        // The page cancels a request by aborting its fetch (the protocol's cancel message over HTTP).
        const abort = new AbortController();
        res.on("close", () => {
          if (res.writableEnded) return;
          cancelled.push(String(body.method));
          abort.abort(new Error("cancelled"));
        });
        void answerRequest(current, { id: 0, method: body.method, params: body.params ?? {} } as HostRequest, abort.signal).then((r) => {
          if (!abort.signal.aborted) send(200, "application/json", JSON.stringify(r.ok ? { ok: true, result: r.result } : { ok: false, error: r.error }));
        });
      });
      return;
    }
    send(404, "text/plain", "not found");
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    events,
    cancelled,
    push(event) {
      for (const c of clients) c.write(`data: ${JSON.stringify(event)}\n\n`);
    },
    setSession(s) {
      current = s;
    },
    close() {
      for (const c of clients) c.end();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
