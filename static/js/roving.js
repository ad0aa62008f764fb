/* A grid of buttons as one tab stop (the WAI-ARIA roving tabindex): Tab reaches the current
   button, the arrow keys move along the rows and between them, Home and End jump to the ends. */

/**
 * Make the buttons in `container` one tab stop; call again after its buttons are replaced (the
 * key handler is added once). Columns are counted from the layout, so the grid may reflow.
 */
export function rovingGrid(container) {
  const buttons = [...container.querySelectorAll("button")];
  const current = buttons.find((b) => b.tabIndex === 0) || buttons[0];
  for (const b of buttons) b.tabIndex = b === current ? 0 : -1;
  if (container.dataset.roving) return;
  container.dataset.roving = "1";
  container.addEventListener("keydown", (e) => {
    const all = [...container.querySelectorAll("button")];
    const i = all.indexOf(e.target);
    if (i < 0) return;
    const firstBelow = all.findIndex((b) => b.offsetTop !== all[0].offsetTop);
    const columns = firstBelow === -1 ? all.length : firstBelow;
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns }[e.key];
    const target = { Home: 0, End: all.length - 1 }[e.key] ?? (step === undefined ? undefined : i + step);
    if (target === undefined) return;
    e.preventDefault();
    const next = all[target];
    if (!next) return;
    all[i].tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });
}
