import type { Command } from '../command.js';
export const reportCommand: Command = { name: 'report', summary: 'todo', usage: 'todo\n', async run() { return 0; } };
