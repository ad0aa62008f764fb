"""The page's pure modules, run in the browser against the served architectures: float16 decoding,
layout ↔ picking round trips, receptive-field geometry at padded borders."""

from __future__ import annotations

import json
import urllib.request

import pytest

FLOAT16 = """async () => {
  const { decodeFloat16 } = await import('/static/js/codec.js');
  const halves = [0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x8000, 0x0400];
  const bytes = new Uint8Array(halves.flatMap((h) => [h & 255, h >> 8]));
  const data = btoa(String.fromCharCode(...bytes));
  return Array.from(decodeFloat16({ shape: [halves.length], data }).values);
}"""

ROUND_TRIP = """async ({ model, mix }) => {
  const { buildGroups } = await import('/static/js/netmodel.js');
  const { layoutGroups, pick, unitWorld } = await import('/static/js/layout.js');
  const groups = buildGroups(model, false);
  const geoms = layoutGroups(groups, new Set(), 1.4);
  const misses = [];
  let checked = 0;
  geoms.forEach((g, gi) => {
    const step = Math.max(1, Math.floor(g.count / 97));
    for (let i = 0; i < g.count; i += step) {
      const p = unitWorld(g, i, mix);
      // A slightly oblique ray at the unit from just in front of its plane (in 3D the planes
      // before it would rightly catch a ray from further away).
      const origin = mix ? [p[0] + 0.01, p[1] + 0.02, p[2] + 500]
                         : [p[0] - 5, p[1] + 0.002, p[2] + 0.001];
      const d = [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]];
      const n = Math.hypot(...d);
      const hit = pick(geoms, { origin, dir: d.map((v) => v / n) }, mix);
      checked++;
      if (!hit || hit.group !== gi || hit.index !== i) misses.push([gi, i, hit]);
    }
  });
  return { checked, misses: misses.slice(0, 5) };
}"""

BORDER = """async ({ model }) => {
  const { buildGroups } = await import('/static/js/netmodel.js');
  const { incoming } = await import('/static/js/receptive.js');
  const groups = buildGroups(model, true);
  const out = [];
  groups.forEach((g, gi) => {
    if (g.kind !== 'conv') return;
    const prev = groups[gi - 1];
    const h = g.head.hyperparams;
    const [F, C, K] = [g.shape[0], prev.shape[0], h.kernel_size];
    const weight = { shape: [F, C, K, K], values: new Float32Array(F * C * K * K).fill(1) };
    const [, OH, OW] = g.shape;
    const centre = Math.floor(OH / 2) * OW + Math.floor(OW / 2);
    out.push({
      name: g.head.name, C, K, pad: h.pad,
      corner: incoming(g, prev, 0, { weight }, null).indices.length,
      centre: incoming(g, prev, centre, { weight }, null).indices.length,
    });
  });
  return out;
}"""


def served_models(server_url) -> list[dict]:
    with urllib.request.urlopen(server_url + "/api/models") as r:
        return json.load(r)["models"]


def test_float16_decoding(page):
    assert page.evaluate(FLOAT16) == pytest.approx(
        [1.0, -2.0, 0.333251953125, 2 ** -24, 65504.0, 0.0, 2 ** -14])


@pytest.mark.parametrize("mix", [0, 1], ids=["3d", "flat"])
def test_every_unit_is_picked_where_it_is_drawn(page, server_url, mix):
    for model in served_models(server_url):
        result = page.evaluate(ROUND_TRIP, {"model": model, "mix": mix})
        assert result["checked"] > 100
        assert result["misses"] == [], model["name"]


def test_conv_receptive_fields_shrink_only_at_padded_borders(page, server_url):
    for model in served_models(server_url):
        for conv in page.evaluate(BORDER, {"model": model}):
            full = conv["C"] * conv["K"] ** 2
            assert conv["centre"] == full, conv
            inside = conv["K"] - conv["pad"]
            assert conv["corner"] == conv["C"] * inside ** 2, conv
