/* A small line chart painted on a canvas (no chart library): axes with ticks, one polyline per
   series, an optional vertical marker and per-point notes. Unlike the data images, a chart is
   drawn at the device's pixel density of its CSS box, so lines and text stay sharp. The x labels
   drawn (none overlapping) are listed in the canvas's data-x-labels as [text, left, right]. */

const AXIS = "#2a3850";
const GRID = "rgba(42, 56, 80, 0.45)";
const TEXT = "#8a96a8";
const FONT = "11px system-ui, sans-serif";
const PAD = { left: 50, right: 14, top: 10, bottom: 24 };

/**
 * @param {HTMLCanvasElement} canvas sized by CSS; painted at devicePixelRatio
 * @param {{x: number[], series: {values: number[], color: string, dash?: number[], width?: number}[],
 *   yMin: number, yMax: number, yTicks: number[], yFormat?: (v) => string,
 *   xTicks?: number[], xFormat?: (v) => string, markers?: {x: number, label: string, color?: string}[],
 *   notes?: {x: number, y: number, text: string, color: string}[]}} opts
 * @returns {{xAt: (clientX: number) => number}} the nearest x value under a pointer position
 */
export function lineChart(canvas, opts) {
  const cssW = canvas.clientWidth || 320;
  const cssH = canvas.clientHeight || 160;
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  const W = Math.round(cssW * dpr);
  const H = Math.round(cssH * dpr);
  if (canvas.width !== W) canvas.width = W;
  if (canvas.height !== H) canvas.height = H;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const xs = opts.x;
  const x0 = xs[0];
  const x1 = xs[xs.length - 1];
  const plotW = cssW - PAD.left - PAD.right;
  const plotH = cssH - PAD.top - PAD.bottom;
  const px = (x) => PAD.left + (x1 === x0 ? plotW / 2 : ((x - x0) / (x1 - x0)) * plotW);
  const span = opts.yMax - opts.yMin || 1;
  const py = (y) => PAD.top + (1 - (Math.max(opts.yMin, Math.min(opts.yMax, y)) - opts.yMin) / span) * plotH;
  const yFormat = opts.yFormat || String;
  const xFormat = opts.xFormat || String;

  ctx.font = FONT;
  ctx.lineWidth = 1;
  ctx.fillStyle = TEXT;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of opts.yTicks) {
    ctx.strokeStyle = GRID;
    ctx.beginPath();
    ctx.moveTo(PAD.left, Math.round(py(t)) + 0.5);
    ctx.lineTo(cssW - PAD.right, Math.round(py(t)) + 0.5);
    ctx.stroke();
    ctx.fillText(yFormat(t), PAD.left - 5, py(t));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const labels = xLabels(ctx, (opts.xTicks || xs).map((t) => [xFormat(t), px(t)]));
  for (const [text, left, right] of labels) ctx.fillText(text, (left + right) / 2, cssH - PAD.bottom + 6);
  canvas.dataset.xLabels = JSON.stringify(labels.map(([text, left, right]) => [text, Math.round(left), Math.round(right)]));
  ctx.strokeStyle = AXIS;
  ctx.beginPath();
  ctx.moveTo(PAD.left + 0.5, PAD.top);
  ctx.lineTo(PAD.left + 0.5, cssH - PAD.bottom + 0.5);
  ctx.lineTo(cssW - PAD.right, cssH - PAD.bottom + 0.5);
  ctx.stroke();

  (opts.markers || []).forEach((m, k) => {
    const mx = Math.round(px(m.x)) + 0.5;
    const color = m.color || "#ffd36e";
    ctx.strokeStyle = color;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(mx, PAD.top);
    ctx.lineTo(mx, cssH - PAD.bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = color;
    const right = mx > cssW - 90;
    ctx.textAlign = right ? "right" : "left";
    ctx.fillText(m.label, mx + (right ? -4 : 4), PAD.top + 6 + k * 13);
  });

  ctx.lineJoin = "round";
  for (const s of opts.series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width || 1.8;
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let started = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined || Number.isNaN(v)) {
        started = false;
        return;
      }
      if (started) ctx.lineTo(px(xs[i]), py(v));
      else ctx.moveTo(px(xs[i]), py(v));
      started = true;
    });
    ctx.stroke();
    ctx.setLineDash([]);
    if (xs.length <= 40) {
      ctx.fillStyle = s.color;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined || Number.isNaN(v)) return;
        ctx.beginPath();
        ctx.arc(px(xs[i]), py(v), 2, 0, Math.PI * 2);
        ctx.fill();
      });
    }
  }

  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.font = `600 ${FONT}`;
  // A note that would overprint one already written is left out (its point still shows): class
  // names as notes are wider than the digits they replaced.
  const written = [];
  for (const n of opts.notes || []) {
    const x = px(n.x);
    const y = py(n.y) - 4;
    const half = ctx.measureText(n.text).width / 2;
    const box = [x - half, y - 12, x + half, y];
    if (written.some((b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3])) continue;
    written.push(box);
    ctx.fillStyle = n.color;
    ctx.fillText(n.text, x, y);
  }

  return {
    xAt(clientX) {
      const r = canvas.getBoundingClientRect();
      const t = (clientX - r.left - PAD.left) / plotW;
      const want = x0 + t * (x1 - x0);
      return xs.reduce((best, x) => (Math.abs(x - want) < Math.abs(best - want) ? x : best), xs[0]);
    },
  };
}

/** The x labels that fit side by side with a gap ([text, x] → [text, left, right]), keeping the
    first and the last: a label that would touch the one before it is left out (on a narrow chart
    "19" and "20" would read "1920"). */
function xLabels(ctx, ticks) {
  const GAP = 6;
  const boxes = ticks.map(([text, x]) => {
    const w = ctx.measureText(text).width;
    return [text, x - w / 2, x + w / 2];
  });
  const kept = [];
  boxes.forEach((b, i) => {
    const last = i === boxes.length - 1;
    while (last && kept.length > 1 && kept[kept.length - 1][2] + GAP > b[1]) kept.pop();
    if (!kept.length || kept[kept.length - 1][2] + GAP <= b[1]) kept.push(b);
  });
  return kept;
}
