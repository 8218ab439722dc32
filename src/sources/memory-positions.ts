import type { PositionStore } from './source.js';

/**
 * A PositionStore that forgets everything at exit: for one-shot runs (`warden test` on a file,
 * stdin) and for tests. The daemon uses the state database instead.
 */
export class MemoryPositionStore implements PositionStore {
  private readonly map = new Map<string, string>();

  loadPosition(key: string): string | undefined {
    return this.map.get(key);
  }

  savePosition(key: string, value: string): void {
    this.map.set(key, value);
  }
}
