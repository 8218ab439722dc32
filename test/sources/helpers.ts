import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogSource, SourceHealth } from '../../src/sources/source.js';

/** Polls `check` until it returns true or the deadline passes; never a fixed long sleep. */
export async function until(check: () => boolean, what: string | (() => string), timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-src-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Drives a source in the background, collecting its lines, like the daemon's pipeline would. */
export class Collector {
  readonly lines: string[] = [];
  readonly times: number[] = [];
  batches = 0;
  finished = false;
  private readonly done: Promise<void>;

  constructor(readonly source: LogSource) {
    this.done = (async () => {
      for await (const batch of source.batches()) {
        this.batches++;
        for (const line of batch.lines) this.lines.push(line);
        if (batch.times) for (const t of batch.times) this.times.push(t);
      }
      this.finished = true;
    })();
  }

  health(): SourceHealth {
    return this.source.health();
  }

  /** Waits until at least `n` lines arrived. */
  async waitLines(n: number, timeoutMs = 5000): Promise<void> {
    await until(() => this.lines.length >= n, () => `${n} lines (have ${this.lines.length}: ${JSON.stringify(this.lines.slice(-5))}; health ${JSON.stringify(this.health())})`, timeoutMs);
  }

  async waitState(state: SourceHealth['state'], timeoutMs = 5000): Promise<void> {
    await until(() => this.health().state === state, () => `state ${state} (health ${JSON.stringify(this.health())})`, timeoutMs);
  }

  async close(): Promise<void> {
    await this.source.stop();
    await this.done;
  }

  /** Resolves when the iterator finished on its own (end of input). */
  async ended(timeoutMs = 5000): Promise<void> {
    await until(() => this.finished, 'the iterator to finish', timeoutMs);
    await this.done;
  }
}
