/* The explain-and-teach panels, in tab order. A descriptor says what its panel follows and asks
   the API for, how it applies the answer and when it is live; teach.js runs them all alike.

   A descriptor has
     id            "why": its markup is #tab-why and #panel-why
     follows       what its answer depends on besides its settings: ["model", "source"]
     create(ctx)   builds its painter (anything with placeholder(text)) over its markup
     ask(ctx, req) the answer for req = {model, source, options}, through api.js
     apply(ctx, answer, req)
   and may have
     settings()    its initial settings, kept as state.teach[id] (default {})
     request(ctx)  the options its next request needs (compared as JSON to skip repeats)
     liveOffScreen(ctx), overlay(ctx) → {values, caption} | null (heat on the 3D input),
     shown(ctx) (its tab opened or resized), modelChanged(ctx, model), cleared(ctx) (pad
     emptied), failed(ctx), predicted(ctx, result), update(ctx, changes) (teach.open's target)
   ctx = {settings, page (the state object), hooks, painter, refresh(), showOverlay()}. */

import { im2colView } from "./im2colview.js";
import { prepView } from "./prepview.js";
import { qualityView } from "./quality.js";
import { robustView } from "./robust.js";
import { trainView } from "./train.js";
import { unitsView } from "./unitsview.js";
import { whereView } from "./where.js";
import { whyView } from "./why.js";

export const PANELS = [whyView, unitsView, im2colView, prepView, qualityView, robustView, whereView, trainView];
