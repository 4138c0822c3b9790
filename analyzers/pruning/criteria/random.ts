/** Seeded randomness for the random criterion and the random baseline: reproducible, and independent of
 * group order (each group draws from its own stream, seeded by the plan seed and the group key). */

import { seededRandom } from "../../util/random.ts";

/** mulberry32 (the generator behind the dummy inputs too): small, fast, good enough for shuffles. */
export const mulberry32: (seed: number) => () => number = seededRandom;

/** FNV-1a of the key mixed with the seed. */
export function streamSeed(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function groupRandom(seed: number, key: string): () => number {
  return mulberry32(streamSeed(seed, key));
}
