/** A command-line mistake: printed with the command's usage, exit status 2. */
export class UsageError extends Error {}

export const DEFAULT_SOCKET = '/run/warden/warden.sock';
