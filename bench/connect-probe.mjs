#!/usr/bin/env node
/**
 * TCP connect timing probe, run by bench/run.mjs inside a network namespace:
 *
 *   node bench/connect-probe.mjs --server ADDR --client ADDR [--count N] [--timeout MS]
 *
 * Listens on ADDR (port chosen by the kernel), connects N times from the local address --client,
 * one connection at a time, and prints JSON: { samples: [µs per connect], failed }. Each
 * connection is reset by the client at once (no TIME_WAIT), and the server never writes. A
 * connect that does not complete within --timeout counts as failed (a dropped SYN).
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    server: { type: 'string' }, client: { type: 'string' },
    count: { type: 'string', default: '1000' }, timeout: { type: 'string', default: '1000' }, warmup: { type: 'string', default: '50' },
  },
});
const count = Number(values.count);
const timeoutMs = Number(values.timeout);
const warmup = Number(values.warmup);

const server = net.createServer((s) => {
  s.on('error', () => undefined);
});
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen({ host: values.server, port: 0 }, resolve);
});
const { port } = server.address();

function once() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = net.connect({ host: values.server, port, localAddress: values.client });
    const timer = setTimeout(() => {
      c.destroy();
      resolve(null);
    }, timeoutMs);
    c.once('connect', () => {
      const dt = performance.now() - t0;
      clearTimeout(timer);
      c.resetAndDestroy();
      resolve(dt);
    });
    c.once('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

for (let i = 0; i < warmup; i++) await once();
const samples = [];
let failed = 0;
for (let i = 0; i < count; i++) {
  const dt = await once();
  if (dt === null) failed++;
  else samples.push(Math.round(dt * 1000 * 10) / 10);
}
server.close();
process.stdout.write(JSON.stringify({ samples, failed }) + '\n');
process.exit(0);
