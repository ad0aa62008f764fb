/* Number formatting shared by the panels: compact, fixed width where it matters. */

/** A value with about four significant digits: 0.123, 12.35, 1.2e-5. */
export function fmt(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return "–";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 10000)) return v.toExponential(1).replace("-", "−");
  const s = v.toFixed(a >= 100 ? 1 : a >= 10 ? 2 : 3);
  return s.startsWith("-") ? `−${s.slice(1)}` : s;
}

/** Probability as a percentage: 99.2%, 0.3%, <0.1%. */
export function pct(p) {
  if (p >= 0.9995) return "100%";
  if (p < 0.001) return "<0.1%";
  return `${(p * 100).toFixed(1)}%`;
}

/** 431080 → "431k", 1234 → "1.2k". */
export function count(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(n);
}

/**
 * The fewest decimals (from `least`, at most 7) at which `terms` rounded each add up to `total`
 * rounded, so a sum shown as numbers is exact to the digits shown.
 */
export function decimalsAddingUp(terms, total, least = 3) {
  const steps = (v, d) => Math.round(Number(v.toFixed(d)) * 10 ** d); // as toFixed shows it
  for (let d = least; d < 7; d++) {
    if (terms.reduce((s, t) => s + steps(t, d), 0) === steps(total, d)) return d;
  }
  return 7;
}

/** A value with exactly `decimals` decimals and a true minus sign. */
export function fixed(v, decimals) {
  const s = v.toFixed(decimals);
  if (Number(s) === 0) return s.replace("-", "");
  return s.startsWith("-") ? `−${s.slice(1)}` : s;
}
