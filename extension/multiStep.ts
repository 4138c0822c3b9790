/**
 * A small multi-step input: QuickPick and InputBox steps with "step n of m" titles and a Back button,
 * in the style of the VS Code samples. Each step resolves to a value, BACK, or undefined (dismissed).
 */
import * as vscode from "vscode";

export const BACK = Symbol("back");
export type StepResult<T> = T | typeof BACK | undefined;

export interface PickItem<T> extends vscode.QuickPickItem {
  readonly value: T;
}

export interface StepInfo {
  readonly title: string;
  readonly step: number;
  readonly total: number;
}

export function pickOne<T>(info: StepInfo, placeholder: string, items: readonly PickItem<T>[], active?: T): Promise<StepResult<T>> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<PickItem<T>>();
    Object.assign(qp, { title: info.title, step: info.step, totalSteps: info.total, placeholder, ignoreFocusOut: true });
    qp.items = items;
    const activeItem = items.find((i) => i.value === active);
    if (activeItem) qp.activeItems = [activeItem];
    if (info.step > 1) qp.buttons = [vscode.QuickInputButtons.Back];
    let done = false;
    const finish = (v: StepResult<T>) => {
      if (done) return;
      done = true;
      resolve(v);
      qp.dispose();
    };
    qp.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    qp.onDidAccept(() => finish(qp.selectedItems[0]?.value));
    qp.onDidHide(() => finish(undefined));
    qp.show();
  });
}

export function pickMany<T>(info: StepInfo, placeholder: string, items: readonly PickItem<T>[], selected: readonly T[]): Promise<StepResult<T[]>> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<PickItem<T>>();
    Object.assign(qp, { title: info.title, step: info.step, totalSteps: info.total, placeholder, ignoreFocusOut: true, canSelectMany: true });
    qp.items = items;
    qp.selectedItems = items.filter((i) => selected.includes(i.value));
    if (info.step > 1) qp.buttons = [vscode.QuickInputButtons.Back];
    let done = false;
    const finish = (v: StepResult<T[]>) => {
      if (done) return;
      done = true;
      resolve(v);
      qp.dispose();
    };
    qp.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    qp.onDidAccept(() => finish(qp.selectedItems.map((i) => i.value)));
    qp.onDidHide(() => finish(undefined));
    qp.show();
  });
}

export function inputText(info: StepInfo, prompt: string, value: string, validate: (s: string) => string | undefined): Promise<StepResult<string>> {
  return new Promise((resolve) => {
    const ib = vscode.window.createInputBox();
    Object.assign(ib, { title: info.title, step: info.step, totalSteps: info.total, prompt, value, ignoreFocusOut: true });
    if (info.step > 1) ib.buttons = [vscode.QuickInputButtons.Back];
    let done = false;
    const finish = (v: StepResult<string>) => {
      if (done) return;
      done = true;
      resolve(v);
      ib.dispose();
    };
    ib.onDidChangeValue((s) => (ib.validationMessage = validate(s)));
    ib.onDidTriggerButton((b) => b === vscode.QuickInputButtons.Back && finish(BACK));
    ib.onDidAccept(() => {
      const err = validate(ib.value);
      if (err) ib.validationMessage = err;
      else finish(ib.value);
    });
    ib.onDidHide(() => finish(undefined));
    ib.show();
  });
}
