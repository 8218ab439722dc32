import { chmodSync, existsSync, mkdirSync, unlinkSync, lstatSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../util/log.js';
import { MAX_REQUEST_BYTES, type Request, type Response } from './protocol.js';

export type RequestHandler = (request: Request) => Promise<unknown>;

/** The daemon's side of the control socket. */
export class ControlServer {
  private server: Server | undefined;

  constructor(private readonly path: string, private readonly handle: RequestHandler, private readonly log: Logger) {}

  async listen(): Promise<void> {
    const dir = dirname(this.path);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    // A socket left by a crashed daemon is removed; anything else at that path is not ours.
    if (existsSync(this.path)) {
      if (!lstatSync(this.path).isSocket()) throw new Error(`${this.path} exists and is not a socket; refusing to replace it`);
      if (await isAlive(this.path)) throw new Error(`another warden daemon is listening on ${this.path}`);
      unlinkSync(this.path);
    }
    const server = createServer((socket) => this.serve(socket));
    const oldMask = process.umask(0o177); // the socket is created 0600 from the start, no race
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => resolve());
      });
    } finally {
      process.umask(oldMask);
    }
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  private serve(socket: Socket): void {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES) {
        reply(socket, { ok: false, error: 'request too large' });
        return;
      }
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      const text = buffer.slice(0, nl);
      socket.removeAllListeners('data');
      let request: Request;
      try {
        request = JSON.parse(text) as Request;
      } catch {
        reply(socket, { ok: false, error: 'request is not valid JSON' });
        return;
      }
      this.handle(request).then(
        (result) => reply(socket, { ok: true, result }),
        (e: unknown) => {
          const message = e instanceof Error ? e.message : String(e);
          this.log.debug(`control: ${request.cmd} failed: ${message}`);
          reply(socket, { ok: false, error: message });
        },
      );
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

function reply(socket: Socket, response: Response): void {
  socket.end(JSON.stringify(response) + '\n');
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.connect(path);
  });
}
