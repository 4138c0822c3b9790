import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import type { ScalpelApi } from "../../extension/extension.ts";

export const EXTENSION_ID = "onnx-scalpel.onnx-scalpel";

export async function scalpel(): Promise<ScalpelApi> {
  const ext = vscode.extensions.getExtension<ScalpelApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
  return ext.activate();
}

/** The test workspace (a temp folder the launcher filled with fixtures). */
export function workspaceDir(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error("the tests need a workspace folder");
  return f.uri.fsPath;
}

export function fixture(name: string): string {
  const p = path.join(workspaceDir(), name);
  if (!fs.existsSync(p)) throw new Error(`fixture ${p} missing (the launcher copies fixtures into the workspace)`);
  return p;
}

/** Resolves with the first event that satisfies `pred`, or rejects after `ms`. */
export function waitFor<T>(event: vscode.Event<T>, pred: (e: T) => boolean, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const sub = event((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(e);
    });
  });
}

export function activeCustomTab(): vscode.TabInputCustom | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom ? input : undefined;
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand("workbench.action.closeAllEditors");
}

/** A clean workbench between tests: no quick input, no notifications, no editors. */
export async function resetWorkbench(): Promise<void> {
  await vscode.commands.executeCommand("workbench.action.closeQuickOpen");
  await vscode.commands.executeCommand("notifications.clearAll");
  await closeAllEditors();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
