/**
 * Module scopes: which source module a node came from. PyTorch's TorchScript exporter writes them into
 * node names (`/layer1/layer1.0/conv1/Conv`); the dynamo exporter writes node metadata
 * (`pkg.torch.onnx.name_scopes`, `pkg.torch.onnx.class_hierarchy`). Both are read here.
 */
import type { NodeProto } from "onnx-buf";

export interface NodeScope {
  /** Scope components as written, outermost first (e.g. ["layer1", "layer1.0", "conv1"]). */
  readonly path: readonly string[];
  /** Dotted module path as in `model.named_modules()` (e.g. "layer1.0.conv1"); "" for the root. */
  readonly module: string;
  /** Class names per component when the exporter recorded them (dynamo exports). */
  readonly classes?: readonly string[];
}

const NAME_SCOPES = "pkg.torch.onnx.name_scopes";
const CLASS_HIERARCHY = "pkg.torch.onnx.class_hierarchy";

/** Parses a Python- or JSON-style list of strings: "['', 'layer1']" or ["", "layer1"]. */
export function parseStringList(text: string): string[] | undefined {
  const t = text.trim();
  if (!t.startsWith("[") || !t.endsWith("]")) return undefined;
  const out: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t))) out.push((m[1] ?? m[2] ?? "").replace(/\\(.)/g, "$1"));
  return out;
}

/**
 * Joins scope components into a dotted module path. TorchScript scopes repeat the parent's prefix for
 * container children (`layer1`, `layer1.0`, `conv1`), so a component that already starts with the path
 * so far replaces it instead of being appended.
 */
export function modulePathOf(components: readonly string[]): string {
  let p = "";
  for (const c of components) {
    if (!c) continue;
    if (p && (c === p || c.startsWith(p + "."))) p = c;
    else p = p ? `${p}.${c}` : c;
  }
  return p;
}

export function scopeOf(node: NodeProto): NodeScope {
  let path: string[] | undefined;
  let classes: string[] | undefined;
  for (const e of node.metadataProps) {
    if (e.key === NAME_SCOPES) path = parseStringList(e.value)?.filter((s) => s !== "");
    else if (e.key === CLASS_HIERARCHY) classes = parseStringList(e.value);
  }
  if (!path) path = scopeFromName(node.name);
  if (classes && classes.length > path.length) classes = classes.slice(classes.length - path.length);
  return { path, module: modulePathOf(path), classes };
}

/** `/layer1/layer1.0/conv1/Conv` → ["layer1", "layer1.0", "conv1"]; names without slashes have no scope. */
export function scopeFromName(name: string): string[] {
  if (!name.includes("/")) return [];
  const parts = name.split("/").filter((s) => s !== "");
  return parts.slice(0, -1);
}
