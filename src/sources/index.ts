/** Log sources: the first stage of the pipeline (see source.ts for the contract). */
export type { LineBatch, LogSource, PositionStore, SourceHealth } from './source.js';
export { FileSource, type FileSourceOptions } from './file.js';
export { JournalSource, type JournalSourceOptions } from './journal.js';
export { StdinSource, type StdinSourceOptions } from './stdin.js';
export { MemoryPositionStore } from './memory-positions.js';
