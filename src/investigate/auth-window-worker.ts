/**
 * A worker thread of the report's log scan: reads the pieces it is sent (auth-window.ts scanPiece)
 * and posts back what they hold. The window's parameters come as workerData; each message is
 * { index, piece }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { scanPiece, type Piece, type WindowParams, type WindowWorkerMessage } from './auth-window.js';

const params = workerData as WindowParams;
const port = parentPort;
port?.on('message', (m: { index: number; piece: Piece }) => {
  scanPiece(m.piece, params).then(
    (result) => port.postMessage({ type: 'done', index: m.index, result } satisfies WindowWorkerMessage),
    (e: unknown) => port.postMessage({ type: 'failed', index: m.index, error: e instanceof Error ? e.message : String(e) } satisfies WindowWorkerMessage),
  );
});
