/* Fan chart as inline SVG: observed history line, forecast median, 50% and 90% bands.
 * window.FanChart.render(container, {history, steps, unit}) where history is
 * [{period, value}] and steps is the `steps` list of GET /v1/models/{name}/forecast.
 * Same layout and colours as service/plots.py (the PNG route). */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const W = 900, H = 380, M = { top: 34, right: 24, bottom: 34, left: 56 };

  function node(tag, attrs, text) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function quantile(row, level) {
    for (const [key, value] of Object.entries(row)) {
      if (Math.abs(parseFloat(key) - level) < 1e-9) return Number(value);
    }
    return NaN;
  }

  function niceTicks(lo, hi, count) {
    const span = Math.max(hi - lo, 1e-9);
    const raw = span / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(+t.toFixed(10));
    return ticks;
  }

  function fmt(v) {
    if (!isFinite(v)) return "–";
    const a = Math.abs(v);
    if (Number.isInteger(v)) return a >= 1000 ? v.toLocaleString("en") : String(v);
    return a >= 1000 ? Math.round(v).toLocaleString("en") : a >= 10 ? v.toFixed(0) : v.toFixed(1);
  }

  // One number of decimals for a whole set of values (a table, a tooltip), so intervals read alike:
  // "8.8 – 18" never sits beside "4 – 30". Whole numbers: 0; anything reaching 10: 0; 1 to 10: 1; below 1: 2.
  function decimalsFor(values) {
    const finite = values.filter((v) => v !== null && isFinite(v));
    if (!finite.length || finite.every(Number.isInteger)) return 0;
    const top = Math.max(...finite.map(Math.abs));
    return top >= 10 ? 0 : top >= 1 ? 1 : 2;
  }

  function fixed(v, decimals) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return Number(v).toLocaleString("en", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  }

  function pathOf(points) {
    let d = "", pen = false;
    for (const [x, y] of points) {
      if (!isFinite(y)) { pen = false; continue; }
      d += (pen ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1);
      pen = true;
    }
    return d;
  }

  function render(container, data) {
    const history = data.history || [];
    const steps = data.steps || [];
    const periods = history.map((p) => p.period);
    const seen = new Set(periods);
    for (const s of steps) if (!seen.has(s.period)) periods.push(s.period);
    const index = new Map(periods.map((p, i) => [p, i]));
    const q = (lvl) => steps.map((s) => quantile(s.quantiles, lvl));
    const lv = { q05: q(0.05), q25: q(0.25), q50: q(0.5), q75: q(0.75), q95: q(0.95) };

    const values = history.map((p) => p.value).filter((v) => v !== null && isFinite(v))
      .concat(lv.q05, lv.q95).filter((v) => isFinite(v));
    let lo = Math.min(0, ...values), hi = Math.max(1, ...values);
    hi += (hi - lo) * 0.05;
    const n = Math.max(periods.length, 2);
    const x = (i) => M.left + (i + 0.5) * (W - M.left - M.right) / n;
    const y = (v) => H - M.bottom - (v - lo) / (hi - lo) * (H - M.top - M.bottom);

    const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, xmlns: NS, "data-steps": steps.length,
                               "data-history": history.length });
    const grid = svg.appendChild(node("g", { class: "grid axis" }));
    for (const t of niceTicks(lo, hi, 6)) {
      grid.appendChild(node("line", { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }));
      grid.appendChild(node("text", { x: M.left - 8, y: y(t) + 4, "text-anchor": "end" }, fmt(t)));
    }
    const every = Math.max(1, Math.ceil(periods.length / 8));
    const xaxis = svg.appendChild(node("g", { class: "axis" }));
    for (let i = periods.length - 1; i >= 0; i -= every) {
      xaxis.appendChild(node("text", { x: x(i), y: H - M.bottom + 18, "text-anchor": "middle" }, periods[i]));
    }
    if (data.unit) {
      xaxis.appendChild(node("text", { x: 14, y: M.top - 14 }, data.unit));
    }

    // the fan starts at the last observed month so it grows out of the history line
    let anchor = null;
    for (let i = history.length - 1; i >= 0; i--) {
      const v = history[i].value;
      if (v !== null && isFinite(v)) { anchor = [x(index.get(history[i].period)), y(v)]; break; }
    }
    const fx = steps.map((s) => x(index.get(s.period)));
    const band = (low, high, cls) => {
      const top = fx.map((xx, i) => [xx, y(high[i])]);
      const bottom = fx.map((xx, i) => [xx, y(low[i])]).reverse();
      const pts = (anchor ? [anchor] : []).concat(top, bottom, anchor ? [anchor] : []);
      svg.appendChild(node("polygon", { class: cls, points: pts.map((p) => p.join(",")).join(" ") }));
    };
    if (steps.length) {
      band(lv.q05, lv.q95, "band-90");
      band(lv.q25, lv.q75, "band-50");
    }
    if (history.length) {
      const pts = history.map((p) => [x(index.get(p.period)), p.value === null ? NaN : y(p.value)]);
      svg.appendChild(node("path", { class: "history", d: pathOf(pts) }));
    }
    if (steps.length) {
      const pts = (anchor ? [anchor] : []).concat(fx.map((xx, i) => [xx, y(lv.q50[i])]));
      svg.appendChild(node("path", { class: "median", d: pathOf(pts) }));
      if (history.length) {
        const dx = x(index.get(steps[0].period)) - (W - M.left - M.right) / n / 2;
        svg.appendChild(node("line", { class: "divider", x1: dx, x2: dx, y1: M.top, y2: H - M.bottom }));
      }
    }
    // hover targets with the numbers of each month
    const colW = (W - M.left - M.right) / n;
    history.forEach((p) => {
      const r = svg.appendChild(node("rect", { class: "hover", x: x(index.get(p.period)) - colW / 2,
        y: M.top, width: colW, height: H - M.top - M.bottom }));
      r.appendChild(node("title", {}, `${p.period}: observed ${p.value === null ? "missing" : fmt(p.value)}`));
    });
    const d = decimalsFor([].concat(lv.q05, lv.q25, lv.q50, lv.q75, lv.q95));
    const f = (v) => fixed(v, d);
    steps.forEach((s, i) => {
      const r = svg.appendChild(node("rect", { class: "hover", x: fx[i] - colW / 2, y: M.top,
        width: colW, height: H - M.top - M.bottom }));
      r.appendChild(node("title", {}, `${s.period}: median ${f(lv.q50[i])}, 50% ${f(lv.q25[i])} – ${f(lv.q75[i])}, ` +
        `90% ${f(lv.q05[i])} – ${f(lv.q95[i])}${data.unit ? " " + data.unit : ""}`));
    });

    const legend = svg.appendChild(node("g", { class: "legend" }));
    const items = [["band-90", "90% interval"], ["band-50", "50% interval"], ["history", "observed"], ["median", "median"]];
    let lx = W - M.right - 430;
    for (const [cls, label] of items) {
      if (cls.startsWith("band")) legend.appendChild(node("rect", { class: cls, x: lx, y: 8, width: 22, height: 10 }));
      else legend.appendChild(node("path", { class: cls, d: `M${lx},13L${lx + 22},13` }));
      legend.appendChild(node("text", { x: lx + 28, y: 17 }, label));
      lx += 108;
    }
    container.replaceChildren(svg);
    return svg;
  }

  window.FanChart = { render, quantile, fmt, decimalsFor, fixed };
})();
