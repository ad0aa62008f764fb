/* The pad and what feeds it: drawing (predictions throttled while a stroke is drawn, every model
   compared when it ends), brush size, undo and clear, uploaded image files, and MNIST digits
   loaded from the samples or elsewhere. */

import * as api from "./api.js";
import { currentDataset, noun } from "./datasets.js";
import { DrawPad } from "./drawpad.js";
import { PadEncoder } from "./padencoder.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);
const DRAW_THROTTLE_MS = 150;

function readDataUrl(file) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(file);
  });
}

export class Pad {
  /** @param {{prediction, result}} parts the prediction flow (predict.js) and the answer card */
  constructor(parts) {
    Object.assign(this, parts);
    this.uploads = new WeakMap(); // source object of an upload → {image: data URL, name}
    this.wholes = new WeakMap(); // source object of a cropped picture → the whole pad's data URL
    this.lastAsk = 0;
    this.timer = 0;
    this.encoder = new PadEncoder();
    this.asked = 0; // the newest picture handed to the encoder
    this.sent = 0; // the newest picture asked about (older ones finishing later are dropped)
    this.dropped = 0; // pictures up to this one were overtaken (a clear, a loaded digit)
    /** Called after any change of the drawing (replay.js follows it). */
    this.listeners = [];
    this.pad = new DrawPad($("draw-canvas"), {
      onDraw: () => this.drawing(),
      onStroke: () => this.strokeDone(),
      onChange: () => this.changed(),
    });
    $("brush-size").addEventListener("input", (e) => {
      this.pad.size = Number(e.target.value);
      document.documentElement.style.setProperty("--brush", `${this.pad.size}`);
    });
    $("clear").addEventListener("click", () => this.clear());
    $("undo").addEventListener("click", () => this.undo());
    $("upload").addEventListener("change", (e) => this.upload(e));
  }

  isBlank() {
    return this.pad.isBlank();
  }

  /** While a stroke is drawn: ask at most every DRAW_THROTTLE_MS, and once more at its end. */
  drawing() {
    // body[data-drawing]: the bars and the answer jump to each live answer instead of easing
    // (style.css): eased, they kept the main thread rendering every frame of a stroke (issue 18)
    document.body.dataset.drawing = "1";
    state.note = "";
    $("pad-hint").hidden = true;
    const now = performance.now();
    clearTimeout(this.timer);
    if (now - this.lastAsk >= DRAW_THROTTLE_MS) {
      this.lastAsk = now;
      this.send(false);
    } else {
      this.timer = setTimeout(() => this.drawing(), DRAW_THROTTLE_MS - (now - this.lastAsk));
    }
  }

  strokeDone() {
    clearTimeout(this.timer);
    delete document.body.dataset.drawing;
    this.lastAsk = performance.now();
    this.send(true);
  }

  /** Ask about the pad's picture once it is encoded (off the main thread, padencoder.js): its
      ink's box, which the server turns into the same input as the whole pad (inkcrop.js); the
      whole pad is kept for the preprocessing view (`describe`). The page counts as busy
      meanwhile, and a picture overtaken by a newer one or by a clear is not sent. */
  async send(withCompare) {
    const seq = ++this.asked;
    this.prediction.busy(true);
    try {
      const { image, whole } = await this.encoder.encode(this.pad.canvas);
      if (seq > this.sent && seq > this.dropped) {
        this.sent = seq;
        const source = { image };
        if (whole !== image) this.wholes.set(source, whole);
        this.prediction.ask(source, withCompare, !withCompare);
      }
    } catch (err) {
      this.result.status(`Could not read the pad's picture: ${err.message}`, "error");
    } finally {
      this.prediction.busy(false);
    }
  }

  changed() {
    $("undo").disabled = !this.pad.canUndo();
    $("pad-hint").hidden = !this.pad.isBlank();
    for (const fn of this.listeners) fn();
  }

  /** The recorded strokes, each a list of whole-pixel [x, y, width] points. */
  strokes() {
    return this.pad.strokes.map((s) => s.points);
  }

  /** Draw `strokes` (from a shared link) on a blank pad and ask about them as a finished drawing. */
  loadStrokes(strokes, base = null) {
    if (base) this.pad.setPixels(base.pixels, { sample: base.index });
    else this.pad.clear();
    this.pad.setStrokes(strokes);
    state.note = "";
    this.strokeDone();
  }

  clear() {
    this.pad.clear();
    this.dropped = this.asked;
    clearTimeout(this.timer);
    this.prediction.forget(`draw a ${noun()} to start`);
    this.result.status("");
  }

  undo() {
    if (!this.pad.canUndo()) return;
    this.pad.undo();
    state.note = "";
    if (this.pad.isBlank()) {
      this.dropped = this.asked;
      this.prediction.forget(`draw a ${noun()} to start`);
    } else this.send(true);
  }

  async upload(e) {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    this.result.status(`Reading ${file.name}…`);
    try {
      const answer = await api.predictFile(file, state.modelName);
      this.pad.setPixels(answer.input.flat(), { upload: file.name });
      this.dropped = this.asked;
      state.note = `${file.name}: cropped, scaled and centred like ${currentDataset().title}.`;
      const source = { pixels: answer.input };
      this.uploads.set(source, { image: await readDataUrl(file), name: file.name });
      this.prediction.ask(source, true);
    } catch (err) {
      if (err.status === 422 && /no ink/i.test(err.message)) {
        // A blank image: nothing to classify, so the previous answer must not stay on screen.
        this.clear();
        this.result.status(`${file.name} has no ink (a blank image): nothing to classify. ` +
          `Upload a picture of a ${noun()}, or draw one.`, "hint");
        return;
      }
      this.result.status(`Could not read ${file.name}: ${err.message}`, "error");
    }
  }

  /** The image a source's preprocessing steps start from, and what to say about it. */
  describe(source) {
    if (source.image) return { image: this.wholes.get(source) || source.image, note: "" };
    const upload = this.uploads.get(source);
    if (upload && upload.image) return { image: upload.image, note: `The steps the server applied to ${upload.name}.` };
    return {
      image: this.pad.toDataURL(),
      note: `This ${noun()} came in as 28×28 pixels and goes to the network as it is. Below: what the ` +
        "same steps do to the pad's picture of it, as they would to a drawing.",
    };
  }

  /** A test sample of the shown dataset; the start-up one (`first`) gives way as soon as the
      user draws. */
  loadSample(sample, first = false) {
    const ds = currentDataset();
    this.loadPixels(sample.pixels, first
      ? `This is ${ds.title} test image #${sample.index} (${sample.class}): start drawing to replace it with your own.`
      : `${ds.title} test image #${sample.index}, labelled ${sample.class}.`, first, { sample: sample.index, dataset: ds.name });
  }

  /** True while the pad shows nothing of the user's own: blank, or a start-up sample. */
  showsNothingOwn() {
    return this.pad.isBlank() || this.pad.replaceOnDraw;
  }

  /** Put a 28×28 image (Float32Array, ink = 1) on the pad and ask about it as it is; `ref` says
      where it came from (a shared link names samples by index and leaves others out). */
  loadPixels(flat, text, replaceOnDraw = false, ref = { other: true }) {
    this.pad.setPixels(flat, ref);
    this.dropped = this.asked;
    this.pad.replaceOnDraw = replaceOnDraw;
    state.note = text;
    const pixels = [];
    for (let r = 0; r < 28; r++) pixels.push(Array.from(flat.subarray(r * 28, r * 28 + 28)));
    this.prediction.ask({ pixels }, true);
  }
}
