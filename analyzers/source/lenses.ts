/**
 * Matches the module tree of an ONNX model (module paths from node names or metadata) to the classes of
 * a PyTorch source file, for CodeLens: which module instances each class has, and the params/MACs of each
 * class and of each submodule attribute, aggregated over instances.
 *
 * An instance of class C is a module whose child attribute names are all attributes C assigns, and which
 * matches C better than any other class of the file (share of C's attributes present). Exporters that
 * record class names per scope (dynamo: `pkg.torch.onnx.class_hierarchy`) can pass them in `classOf` and
 * skip the guess.
 */
import type { PyClass } from "./python.ts";

export interface ModuleNode {
  /** Dotted module path ("blocks.0.conv1"); "" for the root. */
  readonly module: string;
  readonly params: number;
  readonly macs: number;
  readonly children: readonly ModuleNode[];
}

export interface Aggregate {
  /** Module paths of the instances, in model order. */
  readonly modules: readonly string[];
  readonly params: number;
  readonly macs: number;
}

export interface ClassLens extends Aggregate {
  readonly className: string;
  readonly line: number;
}

export interface AttributeLens extends Aggregate {
  readonly className: string;
  readonly attribute: string;
  readonly line: number;
}

export interface SourceLenses {
  readonly classes: readonly ClassLens[];
  readonly attributes: readonly AttributeLens[];
}

/** The attribute name under which `child` hangs in `parent` ("blocks.0.conv1" in "blocks.0" → "conv1"). */
export function attributeName(parent: string, child: string): string {
  return parent && child.startsWith(parent + ".") ? child.slice(parent.length + 1) : child;
}

export interface MatchOptions {
  /** Class name of a module path, when the exporter recorded it. */
  readonly classOf?: (module: string) => string | undefined;
}

export function matchModules(root: ModuleNode, classes: readonly PyClass[], opts: MatchOptions = {}): Map<PyClass, ModuleNode[]> {
  const attrSets = new Map(classes.map((c) => [c, new Set(c.attributes.map((a) => a.name))]));
  const byName = new Map(classes.map((c) => [c.name, c]));
  const result = new Map<PyClass, ModuleNode[]>();
  const visit = (m: ModuleNode) => {
    let best: PyClass | undefined;
    const known = opts.classOf?.(m.module);
    if (known !== undefined) {
      best = byName.get(known);
    } else if (m.children.length > 0) {
      const kids = m.children.map((c) => attributeName(m.module, c.module));
      let bestScore = 0;
      for (const c of classes) {
        const attrs = attrSets.get(c)!;
        if (!kids.every((k) => attrs.has(k))) continue;
        const score = kids.length / attrs.size;
        if (score > bestScore) {
          bestScore = score;
          best = c;
        }
      }
    }
    if (best) {
      const list = result.get(best) ?? [];
      list.push(m);
      result.set(best, list);
    }
    for (const c of m.children) visit(c);
  };
  visit(root);
  return result;
}

export function sourceLenses(root: ModuleNode, classes: readonly PyClass[], opts: MatchOptions = {}): SourceLenses {
  const matched = matchModules(root, classes, opts);
  const classLenses: ClassLens[] = [];
  const attributeLenses: AttributeLens[] = [];
  for (const c of classes) {
    const instances = matched.get(c);
    if (!instances?.length) continue;
    classLenses.push({ className: c.name, line: c.line, ...aggregate(instances) });
    for (const a of c.attributes) {
      const kids = instances.flatMap((inst) => inst.children.filter((k) => attributeName(inst.module, k.module) === a.name));
      if (kids.length) attributeLenses.push({ className: c.name, attribute: a.name, line: a.line, ...aggregate(kids) });
    }
  }
  return { classes: classLenses, attributes: attributeLenses };
}

function aggregate(nodes: readonly ModuleNode[]): Aggregate {
  let params = 0;
  let macs = 0;
  for (const n of nodes) {
    params += n.params;
    macs += n.macs;
  }
  return { modules: nodes.map((n) => n.module), params, macs };
}
