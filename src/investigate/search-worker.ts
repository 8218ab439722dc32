/**
 * A worker thread of `warden search`: runs the file jobs it is sent (search.ts runJob) and posts
 * back their results, and the bytes it reads for the progress bar. The search parameters come as
 * workerData; each message is { index, job }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runJob, type Job, type SearchParams, type WorkerMessage } from './search-job.js';

const params = workerData as SearchParams;
const port = parentPort;
if (port) {
  let pending = 0;
  const flush = (): void => {
    if (pending > 0) port.postMessage({ type: 'bytes', n: pending } satisfies WorkerMessage);
    pending = 0;
  };
  port.on('message', (m: { index: number; job: Job }) => {
    runJob(m.job, params, (n) => {
      pending += n;
      if (pending >= 8 << 20) flush();
    }).then(
      (result) => {
        flush();
        // The typed arrays are moved, not copied.
        const moved = [result.lineNos.buffer, result.times.buffer, ...result.rendered.map((b) => b.buffer)] as ArrayBuffer[];
        port.postMessage({ type: 'done', index: m.index, result } satisfies WorkerMessage, [...new Set(moved)]);
      },
      (e: unknown) => port.postMessage({ type: 'failed', index: m.index, error: e instanceof Error ? e.message : String(e) } satisfies WorkerMessage),
    );
  });
}
