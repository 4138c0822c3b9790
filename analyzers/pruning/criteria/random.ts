/** Seeded randomness for the random criterion and the random baseline: reproducible, and independent of
 * group order (each group draws from its own stream, seeded by the plan seed and the group key). */

/** mulberry32: small, fast, good enough for shuffles. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of the key mixed with the seed. */
export function streamSeed(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function groupRandom(seed: number, key: string): () => number {
  return mulberry32(streamSeed(seed, key));
}
