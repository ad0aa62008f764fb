/* The pad's picture as a PNG data URL without a long task on the main thread (issue 18): the
   pixels are read here (one getImageData) and encoded by a worker (padworker.js); browsers
   without module workers or CompressionStream get the canvas's own toDataURL. */

export class PadEncoder {
  constructor() {
    this.next = 0;
    this.waiting = new Map(); // id → {resolve, reject}
    this.worker = null;
    if (typeof Worker === "undefined" || typeof CompressionStream === "undefined") return;
    try {
      this.worker = new Worker(new URL("./padworker.js", import.meta.url), { type: "module" });
    } catch {
      return;
    }
    this.worker.onmessage = (e) => {
      const job = this.waiting.get(e.data.id);
      this.waiting.delete(e.data.id);
      if (!job) return;
      if (e.data.url) job.resolve(e.data.url);
      else job.reject(new Error(e.data.error));
    };
    this.worker.onerror = () => this.giveUp();
  }

  /** The worker failed to start or crashed: pending and later pictures use toDataURL. */
  giveUp() {
    this.worker = null;
    for (const job of this.waiting.values()) job.fallback();
    this.waiting.clear();
  }

  /** Promise of `canvas`'s picture as a PNG data URL. */
  encode(canvas) {
    if (!this.worker) return Promise.resolve(canvas.toDataURL("image/png"));
    const { width, height } = canvas;
    const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data.buffer;
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, fallback: () => resolve(canvas.toDataURL("image/png")) });
      this.worker.postMessage({ id, width, height, pixels }, [pixels]);
    });
  }
}
