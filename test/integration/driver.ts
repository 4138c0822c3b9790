/**
 * The suite's link to the browser that drives the workbench (code-server launcher only). The extension host
 * cannot see the workbench DOM, so it asks the launcher through files in SCALPEL_DRIVER_DIR: a request is
 * written atomically as req-N.json, the launcher answers with res-N.json. Under @vscode/test-electron there
 * is no driver: `driver.available` is false and tests skip their DOM checks (the API checks still run).
 */
import fs from "node:fs";
import path from "node:path";

const dir = process.env.SCALPEL_DRIVER_DIR;
let seq = 0;

export type Where = "workbench" | "webview";

export interface DriverRequest {
  /** screenshot: save test/artifacts/NAME.png. texts: textContent of every match. click: click the first match. */
  readonly op: "screenshot" | "texts" | "click" | "press" | "type";
  /** press: a key for Playwright's keyboard.press ("Enter", "Control+A"). */
  readonly key?: string;
  /** type: text typed into whatever has focus. */
  readonly text?: string;
  readonly name?: string;
  readonly selector?: string;
  readonly where?: Where;
  /** texts/click: wait until a match exists (and contains `contains`, if given), up to timeoutMs. */
  readonly contains?: string;
  readonly timeoutMs?: number;
}

async function request<T>(req: DriverRequest): Promise<T> {
  if (!dir) throw new Error("no driver (not running under the code-server launcher)");
  const id = `${process.pid}-${++seq}`;
  const reqFile = path.join(dir, `req-${id}.json`);
  fs.writeFileSync(`${reqFile}.tmp`, JSON.stringify(req));
  fs.renameSync(`${reqFile}.tmp`, reqFile);
  const resFile = path.join(dir, `res-${id}.json`);
  const deadline = Date.now() + (req.timeoutMs ?? 10_000) + 15_000;
  while (Date.now() < deadline) {
    if (fs.existsSync(resFile)) {
      const res = JSON.parse(fs.readFileSync(resFile, "utf8")) as { ok: boolean; value?: T; error?: string };
      fs.rmSync(resFile, { force: true });
      if (!res.ok) throw new Error(`driver: ${res.error}`);
      return res.value as T;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`driver did not answer ${JSON.stringify(req)}`);
}

export const driver = {
  available: dir !== undefined,
  screenshot: (name: string) => request<string>({ op: "screenshot", name }),
  /** Texts of all elements matching `selector` in the workbench or inside webviews, waiting for a match. */
  texts: (selector: string, where: Where, opts: { contains?: string; timeoutMs?: number } = {}) =>
    request<string[]>({ op: "texts", selector, where, ...opts }),
  click: (selector: string, where: Where, opts: { contains?: string; timeoutMs?: number } = {}) =>
    request<void>({ op: "click", selector, where, ...opts }),
  press: (key: string) => request<void>({ op: "press", key }),
  type: (text: string) => request<void>({ op: "type", text }),
};
