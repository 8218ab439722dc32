import { existsSync } from 'node:fs';
import { loadConfigFile, loadDefaultConfig } from '../../config/load.js';
import { DEFAULT_CONFIG_PATH } from '../../config/defaults.js';
import { createLogger, type Level } from '../../util/log.js';
import { parse, type Command } from '../command.js';
import { UsageError } from '../usage.js';

/**
 * Node flags for a long-lived daemon: a 1 MiB young generation and V8's size-over-speed mode take
 * ~50 MiB off the resident size of a daemon under a flood (bench/results.md) for ~20% more CPU.
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--optimize-for-size'];

export const runCommand: Command = {
  name: 'run',
  summary: 'run the protection daemon in the foreground',
  usage: `Usage: warden run [--config FILE] [--log-level LEVEL]

Runs the daemon in the foreground (as systemd runs it), logging to stderr.
  --config FILE      configuration (default ${DEFAULT_CONFIG_PATH} if it exists, else the embedded default)
  --log-level LEVEL  debug, info (default), warn or error
Signals: SIGHUP reloads the configuration; SIGTERM and SIGINT stop cleanly (bans stay in the kernel).
`,
  async run(args) {
    const { values } = parse(args, { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' } }, 0);
    const level = (values['log-level'] as Level | undefined) ?? 'info';
    if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new UsageError(`--log-level must be debug, info, warn or error`);
    const explicit = values['config'] as string | undefined;
    const configPath = explicit ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
    // Parse before anything is touched: a malformed file exits 2 with nothing applied.
    const config = configPath ? loadConfigFile(configPath) : loadDefaultConfig();
    // State files and the socket are root's alone: created 0600/0700 from the start.
    process.umask(0o077);
    const log = createLogger({ level });
    if (!DAEMON_NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
      // The command line tools run at full speed without them; a daemon that lives for months
      // should have them (contrib/warden.service and `npm start` pass them).
      log.info(`node runs without ${DAEMON_NODE_FLAGS.join(' ')}: the daemon will hold ~50 MiB more memory (see contrib/warden.service)`);
    }
    // The kernel restore first, then the rest of the daemon's modules (filters, jails, sources,
    // control socket): they load while `nft` puts the open bans back (see daemon/protection.ts).
    // Host names in allow are resolved before anything starts: one that does not resolve is a
    // configuration error (exit 2, nothing applied).
    const allowNames = config.allowNames.length
      ? await (await import('../../jails/allow.js')).resolveAllowNames(config.allowNames)
      : new Map<string, string[]>();
    const { startProtection } = await import('../../daemon/protection.js');
    const protection = await startProtection({ config, log });
    const { Daemon } = await import('../../daemon/daemon.js');
    const daemon = await Daemon.create({ config, configPath, log, protection, allowNames });
    await daemon.start();
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        log.info(`${signal} received, stopping`);
        daemon.stop().then(resolve, (e: unknown) => {
          log.error(`stop failed: ${(e as Error).message}`);
          resolve();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => {
        daemon.handle({ cmd: 'reload' }).catch(() => undefined); // the daemon logs the outcome
      });
    });
    return 0;
  },
};
