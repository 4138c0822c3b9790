/** The group both explorer benchmarks expand cold: the one with most direct items among those of ≤ 200 nodes. */
import type { ExplorerSession } from "../analyzers/explorer/index.ts";
import type { GroupView } from "../analyzers/explorer/types.ts";

export function expansionTarget(s: ExplorerSession): { view: GroupView; chain: string[] } {
  let best: { view: GroupView; chain: string[] } | undefined;
  const walk = (id: string, chain: string[]) => {
    for (const it of s.group({ id }).items) {
      if (it.kind !== "group") continue;
      const child = s.group({ id: it.id });
      if (it.summary!.nodes <= 200 && (!best || child.items.length > best.view.items.length)) best = { view: child, chain };
      walk(it.id, [...chain, it.id]);
    }
  };
  walk("g0", []);
  return best!;
}
