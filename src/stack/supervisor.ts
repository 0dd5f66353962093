/**
 * Watches a server the stack started and brings it back when it goes away, as a service manager would: it
 * checks `isUp` every `everyMs` (1 s); after `misses` failed checks in a row (1) it says what went away,
 * waits `graceMs` (0), and calls `bringBack` until that succeeds, waiting 2 s, 4 s, ... up to 30 s between
 * failed attempts, one line each. Once the stack stops (`stopSignal`, or `stop()`) it starts nothing more:
 * a terminal's Ctrl-C also reaches the servers in the stack's process group, and those are not to come back.
 */
export interface Supervisor {
  /** Stops watching; resolves once an attempt to bring the server back, if any, has ended. */
  stop(): Promise<void>;
}

export function superviseServer(options: {
  isUp(): boolean | Promise<boolean>;
  misses?: number;
  /** The line saying the server went away. */
  wentAway(): string;
  graceMs?: number;
  /** Brings the server back and returns the line saying so; throws (with the reason) when it could not. */
  bringBack(): Promise<string>;
  notify(message: string): void;
  stopSignal?: AbortSignal;
  everyMs?: number;
}): Supervisor {
  let stopping = false;
  let bringing: Promise<void> | undefined;
  let missed = 0;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const bringBackUntilUp = async () => {
    options.notify(options.wentAway());
    if (options.graceMs) await pause(options.graceMs);
    for (let attempt = 1, wait = 2000; !stopping; attempt++, wait = Math.min(wait * 2, 30_000)) {
      try {
        const back = await options.bringBack();
        options.notify(back);
        return;
      } catch (err) {
        if (stopping) return;
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        options.notify(
          `could not bring it back (attempt ${attempt}: ${why}); trying again in ${wait / 1000} s`,
        );
        await pause(wait);
      }
    }
  };

  const check = async () => {
    if (stopping || bringing !== undefined) return;
    missed = (await options.isUp()) ? 0 : missed + 1;
    if (missed < (options.misses ?? 1) || stopping || bringing !== undefined) return;
    missed = 0;
    bringing = bringBackUntilUp().finally(() => {
      bringing = undefined;
    });
  };
  const timer = setInterval(() => void check(), options.everyMs ?? 1000);
  timer.unref();
  const stop = async () => {
    stopping = true;
    clearInterval(timer);
    await bringing;
  };
  options.stopSignal?.addEventListener('abort', () => void stop(), { once: true });
  return { stop };
}
