/* Request pacing: run an async task one call at a time and, while one runs, keep only the newest
   waiting argument (a drawing changes faster than a server answers; stale inputs are dropped). */

/**
 * @param {(arg) => Promise} task
 * @param {(busy: boolean) => void} onBusy true while a call runs or waits, false once idle
 * @returns {(arg) => void} schedule a call
 */
export function latestOnly(task, onBusy) {
  let running = false;
  let next = null;
  const run = async () => {
    running = true;
    onBusy(true);
    while (next) {
      const job = next;
      next = null;
      await task(job.arg);
    }
    running = false;
    onBusy(false);
  };
  return (arg) => {
    next = { arg };
    if (!running) run();
  };
}
