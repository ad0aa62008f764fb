/* The pad's picture as PNG data URLs without a long task on the main thread (issue 18): the
   pixels are read here (one getImageData) and encoded by a worker (padworker.js), the whole pad
   and its ink's box (inkcrop.js), which is what the server is sent; browsers without module
   workers or CompressionStream get the canvas's own toDataURL of the whole pad. */

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
      if (e.data.url) job.resolve({ image: e.data.crop || e.data.url, whole: e.data.url });
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

  /** Promise of `canvas`'s picture as PNG data URLs {image, whole}: `image` to send (the ink's
      box when the server makes the same input of it), `whole` the whole pad. */
  encode(canvas) {
    const both = () => {
      const url = canvas.toDataURL("image/png");
      return { image: url, whole: url };
    };
    if (!this.worker) return Promise.resolve(both());
    const { width, height } = canvas;
    const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data.buffer;
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, fallback: () => resolve(both()) });
      this.worker.postMessage({ id, width, height, pixels }, [pixels]);
    });
  }
}
