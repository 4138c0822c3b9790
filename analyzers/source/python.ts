/**
 * A light reader of PyTorch model sources: the classes and the submodule attributes they assign
 * (`self.conv1 = nn.Conv2d(...)`), with line numbers. Not a Python parser: it follows indentation,
 * skips comments and string literals, and only looks for what CodeLens needs.
 */

export interface PyAttribute {
  readonly name: string;
  /** 0-based line of the assignment. */
  readonly line: number;
  /** The callee of the right-hand side when it is a call (`nn.Conv2d`), else "". */
  readonly ctor: string;
}

export interface PyClass {
  readonly name: string;
  readonly line: number;
  readonly bases: readonly string[];
  /** First assignment of each attribute, in source order. */
  readonly attributes: readonly PyAttribute[];
}

const CLASS_RE = /^(\s*)class\s+([A-Za-z_]\w*)\s*(?:\(([^)]*)\)?)?\s*:?/;
const ATTR_RE = /^\s*self\.([A-Za-z_]\w*)\s*(?::[^=]+)?=(?!=)\s*([A-Za-z_][\w.]*)?\s*(\()?/;

/** Lines with string literals and comments blanked out, so patterns never match inside them. */
export function codeLines(source: string): string[] {
  const out: string[] = [];
  let quote: string | null = null; // open triple quote spanning lines
  for (const raw of source.split(/\r?\n/)) {
    let line = "";
    let i = 0;
    while (i < raw.length) {
      if (quote) {
        const end = raw.indexOf(quote, i);
        if (end < 0) {
          i = raw.length;
        } else {
          i = end + 3;
          quote = null;
        }
        continue;
      }
      const c = raw[i]!;
      if (c === "#") break;
      if (c === '"' || c === "'") {
        const triple = raw.startsWith(c.repeat(3), i);
        if (triple) {
          quote = c.repeat(3);
          line += '""';
          i += 3;
          continue;
        }
        // single-line string: skip to the closing quote (honouring escapes)
        let j = i + 1;
        while (j < raw.length && raw[j] !== c) j += raw[j] === "\\" ? 2 : 1;
        line += '""';
        i = j + 1;
        continue;
      }
      line += c;
      i++;
    }
    out.push(line);
  }
  return out;
}

const indentOf = (line: string) => line.length - line.trimStart().length;

export function parsePythonClasses(source: string): PyClass[] {
  const lines = codeLines(source);
  const classes: PyClass[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = CLASS_RE.exec(lines[i]!);
    if (!m) continue;
    const indent = m[1]!.length;
    const bases = (m[3] ?? "")
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b && !b.includes("="));
    const attributes: PyAttribute[] = [];
    const seen = new Set<string>();
    // The body: following lines indented deeper than the class line (blank lines included).
    for (let j = i + 1; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim() === "") continue;
      if (indentOf(l) <= indent) break;
      const a = ATTR_RE.exec(l);
      if (a && !seen.has(a[1]!)) {
        seen.add(a[1]!);
        attributes.push({ name: a[1]!, line: j, ctor: a[3] ? (a[2] ?? "") : "" });
      }
    }
    classes.push({ name: m[2]!, line: i, bases, attributes });
  }
  return classes;
}

/** Whether a class is a torch module: a base names Module/Sequential/ModuleList/ModuleDict, or another module class of the file. */
export function moduleClasses(classes: readonly PyClass[]): PyClass[] {
  const byName = new Map(classes.map((c) => [c.name, c]));
  const memo = new Map<string, boolean>();
  const isModule = (c: PyClass, depth = 0): boolean => {
    if (memo.has(c.name)) return memo.get(c.name)!;
    let r = c.bases.some((b) => /(^|\.)(Module|Sequential|ModuleList|ModuleDict)$/.test(b));
    if (!r && depth < 20) r = c.bases.some((b) => byName.has(b) && b !== c.name && isModule(byName.get(b)!, depth + 1));
    memo.set(c.name, r);
    return r;
  };
  return classes.filter((c) => isModule(c));
}
