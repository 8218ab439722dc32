import type { SourceConfig } from '../config/schema.js';
import { FileSource } from '../sources/file.js';
import { JournalSource } from '../sources/journal.js';
import { StdinSource } from '../sources/stdin.js';
import type { LogSource, PositionStore } from '../sources/source.js';

/** A stable identity for a source config: jails naming the same log share one reader. */
export function sourceKey(config: SourceConfig): string {
  switch (config.kind) {
    case 'file': return `file:${config.path}`;
    case 'journal': return `journal:${config.directory ?? config.file ?? 'system'}:${[...config.matches].sort().join(',')}`;
    case 'stdin': return 'stdin';
  }
}

export function createSource(config: SourceConfig, positions: PositionStore): LogSource {
  switch (config.kind) {
    case 'file':
      return new FileSource({ path: config.path, positions, backfill: config.backfill });
    case 'journal': {
      const extraArgs: string[] = [];
      if (config.directory) extraArgs.push('--directory', config.directory);
      if (config.file) extraArgs.push('--file', config.file);
      return new JournalSource({ matches: [...config.matches], positions, key: sourceKey(config), extraArgs, backfill: config.backfill });
    }
    case 'stdin':
      return new StdinSource();
  }
}
