import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Watches a server the stack started and brings it back when it goes away, as a service manager would: it
 * checks `isUp` every `everyMs` (1 s), one check at a time; after `misses` failed checks in a row (1) it says
 * what went away, waits `graceMs` (0), and calls `bringBack` until that succeeds, waiting 2 s, 4 s, ... up to
 * 30 s between failed attempts, one line each. Once the stack stops (`stopSignal`, even one aborted before
 * the watch began, or `stop()`) it starts nothing more: a terminal's Ctrl-C also reaches the servers in the
 * stack's process group, and those are not to come back.
 */
export interface Supervisor {
  /** Stops watching; waits (at most 15 s) for an attempt to bring the server back that is under way. */
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
  const stopped = new AbortController();
  let bringing: Promise<void> | undefined;
  let checking = false;
  let missed = 0;
  /** Waits `ms`, or less when the watch stops (the timer's own abort listener goes with it). */
  const pause = (ms: number) => sleep(ms, undefined, { signal: stopped.signal }).catch(() => {});

  const bringBackUntilUp = async () => {
    options.notify(options.wentAway());
    if (options.graceMs) await pause(options.graceMs);
    for (
      let attempt = 1, wait = 2000;
      !stopped.signal.aborted;
      attempt++, wait = Math.min(wait * 2, 30_000)
    ) {
      try {
        const back = await options.bringBack();
        options.notify(back);
        return;
      } catch (err) {
        if (stopped.signal.aborted) return;
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        options.notify(
          `could not bring it back (attempt ${attempt}: ${why}); trying again in ${wait / 1000} s`,
        );
        await pause(wait);
      }
    }
  };

  const check = async () => {
    if (checking || stopped.signal.aborted || bringing !== undefined) return;
    checking = true;
    let up: boolean;
    try {
      up = await options.isUp();
    } catch {
      up = false;
    } finally {
      checking = false;
    }
    // What the check found counts only if nothing changed while it ran.
    if (stopped.signal.aborted || bringing !== undefined) return;
    missed = up ? 0 : missed + 1;
    if (missed < (options.misses ?? 1)) return;
    missed = 0;
    bringing = bringBackUntilUp().finally(() => {
      bringing = undefined;
    });
  };
  const timer = setInterval(() => void check(), options.everyMs ?? 1000);
  timer.unref();
  const stop = async () => {
    stopped.abort();
    clearInterval(timer);
    if (bringing !== undefined)
      await Promise.race([bringing, new Promise((r) => setTimeout(r, 15_000).unref())]);
  };
  if (options.stopSignal?.aborted) void stop();
  else options.stopSignal?.addEventListener('abort', () => void stop(), { once: true });
  return { stop };
}
