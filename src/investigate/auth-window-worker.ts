/**
 * A worker thread of the report's log scan: reads the pieces it is sent (auth-window.ts scanPiece)
 * and posts back what they hold. When asked, it gives up the second half of what is left of its
 * current piece (splitRest), for a thread that ran out of work. The window's parameters come as
 * workerData (with minSplitBytes).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ReadRange } from './log-lines.js';
import { rangeToRead, scanPiece, splitRest, type Piece, type WindowWorkerData, type WindowWorkerMessage, type WindowWorkerRequest } from './auth-window.js';

const params = workerData as WindowWorkerData;
const port = parentPort;
let current: { piece: Piece; range: ReadRange | undefined } | undefined;

const post = (m: WindowWorkerMessage): void => port?.postMessage(m);

port?.on('message', (m: WindowWorkerRequest) => {
  if (m.type === 'split') {
    post({ type: 'split', tail: current?.range ? splitRest(current.piece, current.range, params.minSplitBytes) : null });
    return;
  }
  const range = rangeToRead(m.piece);
  current = { piece: m.piece, range };
  scanPiece(m.piece, params, range).then(
    (result) => {
      current = undefined;
      post({ type: 'done', result });
    },
    (e: unknown) => {
      current = undefined;
      post({ type: 'failed', error: e instanceof Error ? e.message : String(e) });
    },
  );
});
post({ type: 'ready' });
