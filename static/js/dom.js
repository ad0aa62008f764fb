/* A tiny element builder: el("div", {className: "x", onclick: f}, child, "text"), and scrolling
   that honours the reader's reduced-motion setting. */

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An identifier such as `fashion_simple_convnet` as nodes that may wrap after each underscore
 * (a <wbr> adds no text, so textContent stays the name). */
export function breakable(name) {
  return String(name).split(/(?<=_)/).flatMap((part, i) => (i ? [el("wbr"), part] : [part]));
}

/** Scroll `node` into sight (`block` as scrollIntoView's), smoothly unless the reader asked for
    reduced motion (prefers-reduced-motion: reduce), where the page jumps instead. */
export function scrollToSight(node, block = "nearest") {
  const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  node.scrollIntoView({ behavior: reduce ? "auto" : "smooth", block });
}
