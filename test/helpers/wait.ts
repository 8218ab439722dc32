/** Waiting in tests: by polling with a deadline, never by a fixed long sleep. */

export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every `intervalMs` until it returns something other than undefined/false, and
 * returns that. An error thrown by the probe does not end the wait (the daemon may not answer
 * yet): it is kept as the last result and polling goes on. After `timeoutMs` it throws, naming
 * `what` and the probe's last result or error.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 5_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e instanceof Error ? e.message : e;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 500)})`);
    await sleep(intervalMs);
  }
}
