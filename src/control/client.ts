import { connect } from 'node:net';
import type { Request, Response } from './protocol.js';

export class ControlError extends Error {}

/** Sends one request to the daemon and returns its result; throws ControlError with a clear message. */
export function callDaemon(socketPath: string, request: Request, timeoutMs = 15_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ControlError(`no answer from the daemon on ${socketPath} within ${timeoutMs / 1000}s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (chunk: string) => { data += chunk; });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
        ? 'is the daemon running? (warden run, or systemctl start warden)'
        : e.code === 'EACCES' ? 'the control socket is root-only: run as root' : e.message;
      reject(new ControlError(`cannot reach the daemon at ${socketPath}: ${e.code ?? ''} ${hint}`.replace(/  +/g, ' ')));
    });
    socket.on('end', () => {
      clearTimeout(timer);
      let response: Response;
      try {
        response = JSON.parse(data) as Response;
      } catch {
        reject(new ControlError(`the daemon sent an unreadable answer: ${data.slice(0, 200)}`));
        return;
      }
      if (response.ok) resolve(response.result);
      else reject(new ControlError(response.error));
    });
  });
}
