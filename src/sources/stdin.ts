import type { Readable } from 'node:stream';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, type LineCounters } from './lines.js';
import { healthReport, type LineBatch, type LogSource, type SourceHealth } from './source.js';
import { Wakeup } from './wake.js';

/**
 * Lines from a stream — process.stdin by default — for `cat auth.log | warden test` and for
 * programs that pipe their log into warden. Unlike files there is nothing to resume, so no position
 * is kept; the iterator finishes at end of input, after emitting a last line that has no newline.
 * Lines are split with the same rules as files (NUL lines skipped, over-long lines truncated).
 */

export interface StdinSourceOptions {
  /** Default process.stdin. */
  readonly input?: Readable;
  /** Default 'stdin'. */
  readonly name?: string;
  /** Default 16384 bytes. */
  readonly maxLineBytes?: number;
  /** Soft cap on lines per batch (default 20000). */
  readonly maxBatchLines?: number;
}

export class StdinSource implements LogSource {
  readonly name: string;
  private readonly input: Readable;
  private readonly maxBatchLines: number;
  private readonly counters: LineCounters = { skipped: 0, truncated: 0 };
  private readonly splitter: LineSplitter;
  private readonly wake = new Wakeup();
  private state: SourceHealth['state'] = 'starting';
  private error: string | undefined;
  private linesRead = 0;
  private started = false;
  private stopped = false;
  private ended = false;
  private detach: () => void = () => undefined;

  constructor(options: StdinSourceOptions = {}) {
    this.input = options.input ?? process.stdin;
    this.name = options.name ?? 'stdin';
    this.maxBatchLines = options.maxBatchLines ?? 20_000;
    // Stream chunks are small (64 KiB); the splitter copies them into its buffer.
    this.splitter = new LineSplitter(this.counters, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, 1 << 16);
  }

  health(): SourceHealth {
    return healthReport(this.name, this.state, this.linesRead, this.counters, this.error);
  }

  batches(): AsyncIterable<LineBatch> {
    return this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.detach();
    this.wake.signal();
    if (!this.started) this.state = 'stopped';
  }

  private async *run(): AsyncGenerator<LineBatch, void, undefined> {
    if (this.started) {
      this.error = 'batches() may be iterated only once';
      return;
    }
    this.started = true;
    const input = this.input;
    const onReadable = (): void => this.wake.signal();
    const onEnd = (): void => {
      this.ended = true;
      this.wake.signal();
    };
    const onError = (e: Error): void => {
      this.error = `${this.name}: ${e.message}`;
      onEnd();
    };
    input.on('readable', onReadable);
    input.on('end', onEnd);
    input.on('error', onError);
    this.detach = () => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
      this.detach = () => undefined;
    };
    if (input.readableEnded) this.ended = true;
    this.state = 'following';
    try {
      while (!this.stopped) {
        const lines: string[] = [];
        let chunk: unknown;
        while (lines.length < this.maxBatchLines && (chunk = input.read()) !== null) {
          if (typeof chunk === 'string') this.splitter.push(Buffer.from(chunk, 'utf8'), lines);
          else if (Buffer.isBuffer(chunk)) this.splitter.push(chunk, lines);
          else if (chunk instanceof Uint8Array) this.splitter.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), lines);
        }
        // 'end' fires only once read() has returned everything, so the input is fully consumed.
        const done = this.ended && chunk === null;
        if (done) this.splitter.flush(lines);
        if (lines.length > 0) {
          this.linesRead += lines.length;
          yield { lines, readAt: Date.now() };
        }
        if (done) break;
        if (lines.length === 0) await this.wake.wait(1000);
      }
    } finally {
      this.detach();
      this.state = this.error !== undefined ? 'error' : 'stopped';
    }
  }
}
