/**
 * A level-triggered wake-up flag for a source's read loop.
 *
 * Watch events, child-process output and stop() all call `signal()`; the loop calls `wait()` when
 * it has nothing to read. A signal that arrives while the loop is busy reading is remembered, so
 * the loop never sleeps through data that arrived between its last read and its wait — the classic
 * lost-wake-up race. Many signals collapse into one wake-up, so a burst of thousands of inotify
 * events costs one extra loop iteration, not thousands.
 */
export class Wakeup {
  private flagged = false;
  private resolve: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  signal(): void {
    this.flagged = true;
    const r = this.resolve;
    if (r) {
      this.resolve = undefined;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      r();
    }
  }

  /** Resolves at the next signal (or at once if one is pending), or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    if (this.flagged) {
      this.flagged = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.resolve = () => {
        this.flagged = false;
        resolve();
      };
      this.timer = setTimeout(() => {
        this.resolve = undefined;
        this.timer = undefined;
        resolve();
      }, timeoutMs);
    });
  }
}

