// Preloaded into each process the `cli` bench section starts: reports the process's peak RSS (KiB) on fd 3.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  try {
    writeSync(3, String(process.resourceUsage().maxRSS));
  } catch {
    // fd 3 is not open: not started by the bench.
  }
});
