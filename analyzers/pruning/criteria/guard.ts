/**
 * The rule "never remove every index a group maps on one of its axes", checked as units are removed one
 * block at a time. Keeping one unit is not always enough: units may have empty ranges on some members
 * (partial maps), and a member or rewrite axis emptied would leave a zero-sized tensor.
 */
import { indicesOf, type Group } from "../types.ts";

export class AxisGuard {
  private readonly maps;
  private readonly total: number[];
  private readonly gone: Set<number>[];

  constructor(g: Group) {
    this.maps = [...g.members.map((m) => m.indices), ...g.rewrites.map((r) => r.indices)];
    this.total = this.maps.map((map) => {
      const s = new Set<number>();
      for (let u = 0; u < g.units; u++) for (const i of indicesOf(map, u)) s.add(i);
      return s.size;
    });
    this.gone = this.maps.map(() => new Set<number>());
  }

  /** Removes the units if that leaves every axis at least one of the group's indices; false (and no change) otherwise. */
  tryRemove(units: readonly number[]): boolean {
    const adds = this.maps.map((map, k) => {
      const fresh = new Set<number>();
      for (const u of units) for (const i of indicesOf(map, u)) if (!this.gone[k]!.has(i)) fresh.add(i);
      return fresh;
    });
    if (adds.some((f, k) => this.total[k]! > 0 && this.gone[k]!.size + f.size >= this.total[k]!)) return false;
    adds.forEach((f, k) => f.forEach((i) => this.gone[k]!.add(i)));
    return true;
  }
}
