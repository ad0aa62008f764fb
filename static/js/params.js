/* Layer weights for hover connections and the unit panel: fetched once per model and parameter,
   decoded, shared; a failed fetch is forgotten so the next hover retries. */

import { neededParams } from "./geometry.js";

export class ParamCache {
  /**
   * @param {Map} store "model/param" → entry (the page state's cache)
   * @param {(model, name) => Promise<{shape, values}>} load fetch and decode one parameter
   */
  constructor(store, load) {
    this.store = store;
    this.load = load;
  }

  /** {settled, promise} for one parameter. */
  entry(model, name) {
    const key = `${model}/${name}`;
    let entry = this.store.get(key);
    if (!entry) {
      entry = { settled: false };
      entry.promise = this.load(model, name).then(
        (v) => { entry.settled = true; return v; },
        (err) => { this.store.delete(key); throw err; });
      this.store.set(key, entry);
    }
    return entry;
  }

  /** {settled, promise → {weight, bias}} for a group's head layer (conv or affine). */
  forGroup(model, group) {
    const [w, b] = neededParams(group).map((name) => this.entry(model, name));
    return {
      settled: w.settled && b.settled,
      promise: Promise.all([w.promise, b.promise]).then(([weight, bias]) => ({ weight, bias })),
    };
  }

  /** Fetch every group's weights one after another, while `current()` stays true. */
  async prefetch(model, groups, current) {
    for (const g of groups) {
      if (!current()) return;
      if (neededParams(g).length) await this.forGroup(model, g).promise.catch(() => null);
    }
  }
}
