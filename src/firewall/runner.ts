import { execFile, type ExecResult } from '../util/exec.js';
import { FirewallError } from './firewall.js';

/** What a backend reports about each command it ran (for logs, metrics and tests). */
export interface CommandInfo {
  /** The argv as the backend sees it, without the `ip netns exec NS` prefix. */
  readonly argv: readonly string[];
  readonly netns: string | undefined;
  /** Bytes written to stdin (0 when none). */
  readonly inputBytes: number;
  readonly code: number | null;
  readonly ms: number;
}

export interface RunnerOptions {
  /** Run every command inside this network namespace (`ip netns exec NS ...`). */
  readonly netns?: string;
  /** Path of `ip`, used only with netns. */
  readonly ipPath?: string;
  /** Called after every command, successful or not. */
  readonly onCommand?: (info: CommandInfo) => void;
  /** Per-command limit; a hung tool must not hang the daemon. Default 60 s (100k-element batches take ~2 s). */
  readonly timeoutMs?: number;
}

/** Longest stderr excerpt put into an error message; the full text goes to FirewallError.detail. */
const MESSAGE_STDERR_CHARS = 1_000;
const DETAIL_CHARS = 64 * 1024;

const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Runs the firewall tools with argument arrays (never a shell) and turns every failure — missing
 * program, non-zero exit, timeout — into a FirewallError naming the command and its stderr, which
 * is what the daemon logs before retrying.
 */
export class CommandRunner {
  private readonly netns: string | undefined;

  constructor(private readonly options: RunnerOptions = {}) {
    if (options.netns !== undefined && (!NETNS_NAME.test(options.netns) || options.netns.startsWith('.'))) {
      throw new FirewallError(`invalid network namespace name ${JSON.stringify(options.netns)}`);
    }
    this.netns = options.netns;
  }

  /** Runs and returns the result whatever the exit status; throws only when the program cannot start. */
  async tryRun(argv: readonly string[], input?: string): Promise<ExecResult> {
    const [program, ...args] = argv;
    if (!program) throw new Error('empty argv');
    const [file, fileArgs] = this.netns === undefined
      ? [program, args]
      : [this.options.ipPath ?? 'ip', ['netns', 'exec', this.netns, program, ...args]];
    const started = performance.now();
    let result: ExecResult;
    try {
      result = await execFile(file, fileArgs, { input, timeoutMs: this.options.timeoutMs ?? 60_000 });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new FirewallError(`cannot run ${describe(argv, this.netns)}: ${why}`, why);
    }
    this.options.onCommand?.({
      argv, netns: this.netns, inputBytes: input === undefined ? 0 : Buffer.byteLength(input),
      code: result.code, ms: performance.now() - started,
    });
    return result;
  }

  /** Runs and throws a FirewallError unless the exit status is 0. */
  async run(argv: readonly string[], input?: string): Promise<ExecResult> {
    const result = await this.tryRun(argv, input);
    if (result.code !== 0) throw commandFailed(argv, this.netns, result);
    return result;
  }
}

function describe(argv: readonly string[], netns: string | undefined): string {
  const cmd = argv.join(' ');
  return netns === undefined ? cmd : `${cmd} (in netns ${netns})`;
}

/** The error for a command that ran and failed. */
export function commandFailed(argv: readonly string[], netns: string | undefined, result: ExecResult): FirewallError {
  const stderr = result.stderr.trim() || result.stdout.trim();
  const status = result.code === null ? `killed by ${result.signal ?? 'signal'} (timeout?)` : `exit ${result.code}`;
  const excerpt = stderr.length > MESSAGE_STDERR_CHARS ? `${stderr.slice(0, MESSAGE_STDERR_CHARS)}…` : stderr;
  return new FirewallError(`${describe(argv, netns)} failed (${status}): ${excerpt || 'no output'}`, stderr.slice(0, DETAIL_CHARS));
}
