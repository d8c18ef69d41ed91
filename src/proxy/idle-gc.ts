/**
 * Returns memory after a burst of traffic. With the small young generation the proxy runs with, objects
 * of requests in flight across a scavenge are promoted and sit in old space until the next full
 * collection, and V8's own memory reducer did not run here (measured: 25 MB of heap, most of it garbage,
 * still resident 10 s after load stopped). So when traffic stops, one full collection runs, provided
 * the heap grew since the last one. It needs `--expose-gc` (bin/weft.js passes it to `weft proxy`);
 * without it this does nothing.
 */

const CHECK_MS = 1000;
/** Only worth a full collection when this much heap was added since the last one. */
const GROWTH_BYTES = 4 * 1024 * 1024;

export function startIdleGc(
  requestCount: () => number,
  heapUsed: () => number = () => process.memoryUsage().heapUsed,
): () => void {
  const gc = (globalThis as { gc?: (options?: object) => void }).gc;
  if (typeof gc !== 'function') return () => {};
  let lastCount = requestCount();
  let busy = false;
  let heapAfterGc = heapUsed();
  const timer = setInterval(() => {
    const count = requestCount();
    if (count !== lastCount) {
      lastCount = count;
      busy = true;
      return;
    }
    if (!busy) return;
    busy = false;
    if (heapUsed() - heapAfterGc < GROWTH_BYTES) return;
    // 'last-resort' is V8's memory-reducing full collection: it also gives pooled pages back to the OS.
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    heapAfterGc = heapUsed();
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
