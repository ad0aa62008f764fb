/* The explain-and-teach panels, in tab order. A descriptor says what its panel follows and asks
   the API for, how it applies the answer and when it is live; teach.js runs them all alike.

   Descriptor fields (the optional ones may be left out):
     id            "why": its markup is #tab-why and #panel-why
     follows       what its answer depends on besides its settings: ["model", "source"]
     settings()    its initial settings, kept as state.teach[id]
     create(ctx)   builds its painter (anything with placeholder(text)) over its markup
     request(ctx)  the options its next request needs (compared as JSON to skip repeats)
     ask(ctx, req) the answer for req = {model, source, options}, through api.js
     apply(ctx, answer, req)
     optional: liveOffScreen(ctx), overlay(ctx) → {values, caption} | null, shown(ctx),
       modelChanged(ctx, model), cleared(ctx), failed(ctx), predicted(ctx, result),
       update(ctx, changes) (what teach.open(id, changes) calls)
   ctx = {settings, page (the state object), hooks, painter, refresh(), showOverlay()}. */

import { im2colView } from "./im2colview.js";
import { prepView } from "./prepview.js";
import { qualityView } from "./quality.js";
import { robustView } from "./robust.js";
import { whyView } from "./why.js";

export const PANELS = [whyView, im2colView, prepView, qualityView, robustView];
