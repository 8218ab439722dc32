import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_SOCKET, UsageError } from './usage.js';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: string[];
}

/** node:util parseArgs (strict) with its errors turned into UsageError (exit 2 with usage). */
export function parse(args: string[], options: Options, maxPositionals = Infinity): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length > maxPositionals) throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`);
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

export const clientOptions = { socket: { type: 'string' }, json: { type: 'boolean' } } as const;

export function socketPath(values: Parsed['values']): string {
  const s = values['socket'];
  return typeof s === 'string' ? s : process.env['WARDEN_SOCKET'] ?? DEFAULT_SOCKET;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
