/**
 * Group patterns (protect, per-group ratios). A pattern matches a group when it matches its scope (or an enclosing module:
 * "layer4" protects "layer4.1.conv2"), its key, or any member's tensor or node name. Protecting a tensor thus
 * means it is never sliced at all — protecting the classifier "fc" also keeps the channels that feed it.
 *
 * A pattern is a glob over the whole name (`*` any run, `?` one character) or, written `/…/`, a regular
 * expression searched anywhere in the name.
 */
import type { Group } from "../types.ts";

export type Matcher = (name: string) => boolean;

export function compilePattern(pattern: string): Matcher {
  if (pattern.length > 2 && pattern.startsWith("/") && pattern.endsWith("/")) {
    const re = new RegExp(pattern.slice(1, -1));
    return (s) => re.test(s);
  }
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  const re = new RegExp(`^(?:${body})$`);
  return (s) => re.test(s);
}

/** Scope "a.b.c" and its enclosing modules "a.b", "a". */
function scopes(scope: string): string[] {
  if (!scope) return [];
  const parts = scope.split(".");
  return parts.map((_, i) => parts.slice(0, i + 1).join("."));
}

/** The first pattern that matches the group, or undefined. */
export function matchingPattern(g: Group, patterns: readonly string[]): string | undefined {
  for (const p of patterns) {
    const m = compilePattern(p);
    if (scopes(g.scope).some(m) || m(g.key) || g.members.some((x) => m(x.tensor) || m(x.node))) return p;
  }
  return undefined;
}

/** The first protect pattern that leaves the group whole, or undefined. */
export const protectedBy = matchingPattern;
