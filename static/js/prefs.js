/* Choices the page remembers between visits, in localStorage under "cnnvis.<name>" (a browser
   that refuses storage keeps them for this page only): which optional sections are folded. */

const PREFIX = "cnnvis.";

/** The remembered value of `name`, or `fallback` when none (or storage is refused). */
export function remembered(name, fallback) {
  try {
    const stored = window.localStorage.getItem(PREFIX + name);
    return stored === null ? fallback : JSON.parse(stored);
  } catch {
    return fallback;
  }
}

/** Remember `value` (JSON) for `name`; false when storage is refused. */
export function remember(name, value) {
  try {
    window.localStorage.setItem(PREFIX + name, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}
