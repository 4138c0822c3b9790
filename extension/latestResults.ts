/**
 * The latest result of a run per model file, kept in the extension host (not in a webview), so that a
 * viewer opened after the run ended can still show it (the ablation overlays). Pure: no `vscode` import.
 *
 * A result belongs to the file as it was when the run ended: if the file has changed or gone since, the
 * result no longer describes it and is dropped. Few models are open at once; the oldest results beyond
 * `capacity` are forgotten.
 */
import fs from "node:fs";
import path from "node:path";

/** What identifies a version of a file cheaply. */
export interface FileStamp {
  readonly mtimeMs: number;
  readonly size: number;
}

export function fileStamp(file: string): FileStamp | undefined {
  try {
    const s = fs.statSync(file);
    return { mtimeMs: s.mtimeMs, size: s.size };
  } catch {
    return undefined;
  }
}

export class LatestResults<R extends object> {
  private readonly byFile = new Map<string, { readonly result: R; readonly stamp: FileStamp | undefined }>();
  /** The result last shown by each consumer (a document): shown again after a reload, but not brought to the front. */
  private readonly shown = new WeakMap<object, R>();

  constructor(
    private readonly capacity = 16,
    private readonly stamp: (file: string) => FileStamp | undefined = fileStamp,
  ) {}

  /** Records the result of a run on `file` that has just ended (it replaces any earlier one). */
  set(file: string, result: R): void {
    const key = path.resolve(file);
    this.byFile.delete(key);
    this.byFile.set(key, { result, stamp: this.stamp(key) });
    for (const old of this.byFile.keys()) {
      if (this.byFile.size <= this.capacity) break;
      this.byFile.delete(old);
    }
  }

  /** The latest result for `file`, unless the file has changed (or gone) since the run ended. */
  get(file: string): R | undefined {
    const key = path.resolve(file);
    const hit = this.byFile.get(key);
    if (!hit) return undefined;
    const now = this.stamp(key);
    if (!hit.stamp || !now || now.mtimeMs !== hit.stamp.mtimeMs || now.size !== hit.stamp.size) {
      this.byFile.delete(key);
      return undefined;
    }
    return hit.result;
  }

  /** Forgets the result for `file`. */
  delete(file: string): void {
    this.byFile.delete(path.resolve(file));
  }

  get size(): number {
    return this.byFile.size;
  }

  /**
   * Notes that `consumer` now shows `result`; true the first time it does (make it the active overlay), false
   * when it showed that same result before (a reload: restore it, leave the user's choice of overlay alone).
   */
  markShown(consumer: object, result: R): boolean {
    if (this.shown.get(consumer) === result) return false;
    this.shown.set(consumer, result);
    return true;
  }
}
