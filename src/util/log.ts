/**
 * The daemon's log: one line per event on stderr. Under systemd (JOURNAL_STREAM is set) each line
 * starts with a "<N>" priority prefix, which journald turns into the entry's priority; elsewhere it
 * starts with an ISO timestamp and the level, readable in a terminal or a file.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function createLogger(options: { level?: Level; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[options.level ?? (process.env['WARDEN_LOG_LEVEL'] as Level | undefined) ?? 'info'] ?? 1;
  const journal = process.env['JOURNAL_STREAM'] !== undefined;
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: Level, msg: string): void => {
    if (ORDER[level] < min) return;
    // One event, one line: a newline inside a message (from a log line or an error) is escaped.
    const text = msg.replace(/\n/g, '\\n');
    write(journal ? `<${PRIORITY[level]}>${text}\n` : `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${text}\n`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
