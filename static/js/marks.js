/* Marks over a data-resolution canvas: an SVG layer in the canvas's own pixel coordinates
   (boxes, bands, lines, dots) stretched with it by CSS, so a highlight stays crisp however
   far the canvas is scaled up. Marks are keyed and reused, so hovering only moves them. */

const NS = "http://www.w3.org/2000/svg";

class Marks {
  /** @param {number} width @param {number} height the canvas's size in data pixels */
  constructor(width, height) {
    this.svg = document.createElementNS(NS, "svg");
    this.svg.setAttribute("class", "marks");
    this.svg.setAttribute("aria-hidden", "true");
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.resize(width, height);
    this.items = new Map();
  }

  resize(width, height) {
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }

  item(key, tag, cls) {
    let node = this.items.get(key);
    if (!node || node.tagName !== tag) {
      node?.remove();
      node = document.createElementNS(NS, tag);
      this.svg.appendChild(node);
      this.items.set(key, node);
    }
    node.setAttribute("class", cls);
    return node;
  }

  /** A box over cells [x, x + w) × [y, y + h). */
  rect(key, x, y, w, h, cls = "mark-box") {
    const node = this.item(key, "rect", cls);
    node.setAttribute("x", x);
    node.setAttribute("y", y);
    node.setAttribute("width", w);
    node.setAttribute("height", h);
    return node;
  }

  line(key, x1, y1, x2, y2, cls = "mark-line") {
    const node = this.item(key, "line", cls);
    for (const [k, v] of [["x1", x1], ["y1", y1], ["x2", x2], ["y2", y2]]) node.setAttribute(k, v);
    return node;
  }

  dot(key, x, y, r, cls = "mark-dot") {
    const node = this.item(key, "circle", cls);
    node.setAttribute("cx", x);
    node.setAttribute("cy", y);
    node.setAttribute("r", r);
    return node;
  }

  remove(key) {
    this.items.get(key)?.remove();
    this.items.delete(key);
  }

  /** Remove every mark whose key starts with `prefix` (all when omitted). */
  clear(prefix = "") {
    for (const key of [...this.items.keys()]) if (key.startsWith(prefix)) this.remove(key);
  }
}

/**
 * A canvas of `width` × `height` data pixels shown at `cssW` × `cssH`, with a Marks layer on
 * top: {el (the wrapper), canvas, marks}.
 */
export function layered(width, height, cssW, cssH, label) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  if (label) canvas.setAttribute("aria-label", label);
  const marks = new Marks(width, height);
  const el = document.createElement("div");
  el.className = "layered";
  el.style.width = `${cssW}px`;
  el.style.height = `${cssH}px`;
  el.append(canvas, marks.svg);
  return { el, canvas, marks };
}
