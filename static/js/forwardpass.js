/* "Play the forward pass": the layers light up one after another, input to output, as the data
   flows through them (a few seconds, repeatable), to show how deep the network is. */

import { state } from "./state.js";

const TOTAL_MS = 2800;
const MIN_STEP_MS = 160;
const HOLD_MS = 700;

export class ForwardPass {
  /**
   * @param {{view, button, done}} parts the 3D view (netview.js), the play button, and done()
   *   called once the view is given back (the tour or focus repaint their highlights)
   */
  constructor(parts) {
    Object.assign(this, parts);
    this.timer = 0;
    this.button.addEventListener("click", () => this.play());
  }

  get playing() {
    return this.timer !== 0;
  }

  play() {
    this.stop(false);
    const n = state.groups.length;
    if (!n) return;
    const step = Math.max(MIN_STEP_MS, TOTAL_MS / n);
    let k = 0;
    this.button.dataset.playing = "1";
    const lit = new Set();
    const tick = () => {
      if (k < n) {
        lit.add(k);
        this.view.setLit(lit, k);
        k += 1;
        this.timer = setTimeout(tick, step);
      } else {
        this.view.setLit(lit, -1);
        this.timer = setTimeout(() => this.stop(true), HOLD_MS);
      }
    };
    tick();
  }

  /** End the playback; `restore` hands the view's highlights back. */
  stop(restore = true) {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = 0;
    this.button.dataset.playing = "0";
    this.view.setLit(null);
    if (restore) this.done();
  }
}
