/* Request pacing: run an async task one call at a time and, while one runs, keep only the newest
   waiting argument (a drawing changes faster than a server answers; stale inputs are dropped).
   A call that `supersedes` aborts the one running (its answer would be stale on arrival). */

/**
 * @param {(arg, signal: AbortSignal) => Promise} task
 * @param {(busy: boolean) => void} onBusy true while a call runs or waits, false once idle
 * @returns {(arg, options?: {supersede?: boolean}) => void} schedule a call; `supersede` aborts
 *   the running call's signal, so the new one starts without waiting for it
 */
export function latestOnly(task, onBusy) {
  let running = null; // the AbortController of the call in progress
  let next = null;
  const run = async () => {
    onBusy(true);
    while (next) {
      const job = next;
      next = null;
      running = new AbortController();
      await task(job.arg, running.signal);
    }
    running = null;
    onBusy(false);
  };
  return (arg, { supersede = false } = {}) => {
    next = { arg };
    if (!running) run();
    else if (supersede) running.abort();
  };
}
