/**
 * A bounded memo for hot keys (attacker addresses repeat): two generations of at most `limit`
 * entries each. When the young generation is full it becomes the old one and the previous old one
 * is dropped, so memory stays bounded, and a key still in use survives the turnover (a hit in the
 * old generation moves it back to the young one) — unlike a map cleared wholesale when full, which
 * forgets the hot keys too and, past its size, keeps the most memory for the least benefit.
 */
export class RecentMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  /**
   * @param ownKey makes a key safe to keep (e.g. a flat copy of a string cut from a large read
   *   chunk, which would otherwise keep the whole chunk alive); applied to every key stored.
   */
  constructor(private readonly limit: number, private readonly ownKey: (key: K) => K = (key) => key) {}

  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(this.ownKey(key), value);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  /** Entries held (at most twice the limit). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
