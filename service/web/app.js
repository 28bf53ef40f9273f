/* fragility-forecast page: model / region / horizon pickers, fan chart, spillover question,
 * versions with diagnostics and gate verdicts, jobs and backtest scores. Plain JS, no build.
 * URL parameters preselect: ?model=&region=&horizon=&source=&target=&threshold= (with source
 * and target given, the spillover question is asked on load). */
(function () {
  "use strict";
  const KEY_STORE = "fragility.apiKey";
  const QUANTILES = "0.05,0.25,0.5,0.75,0.95";
  const HISTORY_MONTHS = 48;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const state = { models: [], regions: new Map(), model: null, indicators: [], thresholdChosen: params.has("threshold") };

  // ---------------------------------------------------------------- helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
    return node;
  }
  const pct = (p) => (p === null || p === undefined || !isFinite(p)) ? "–" : (100 * p).toFixed(1) + "%";
  const pts = (p) => (p >= 0 ? "+" : "") + (100 * p).toFixed(1);
  const num = (v, d = 3) => (v === null || v === undefined) ? "–" : (typeof v === "number" ? +v.toFixed(d) : String(v));
  const when = (s) => s ? new Date(s).toISOString().slice(0, 16).replace("T", " ") : "–";
  const indicatorOf = (id) => state.indicators.find((i) => i.id === id) || null;
  const unitOf = (id) => indicatorOf(id)?.unit || "";
  const regionName = (id) => (state.regions.get(id)?.name ? `${state.regions.get(id).name} (${id})` : id);

  function addMonths(period, n) {
    const [y, m] = period.split("-").map(Number);
    const t = y * 12 + (m - 1) + n;
    return `${Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, "0")}`;
  }

  function notice(text, kind = "error") {
    const box = $("notice");
    box.hidden = !text;
    box.className = "notice " + kind;
    box.textContent = text || "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.detail || body?.error || `HTTP ${status}`);
      this.status = status; this.body = body || {};
    }
    get text() { return this.message + (this.body.hint ? ` ${this.body.hint}` : ""); }
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    const key = localStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = "Bearer " + key;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      options = { ...options, body: JSON.stringify(options.json) };
    }
    const response = await fetch(path, { ...options, headers });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const err = new ApiError(response.status, body);
      if (response.status === 401) keyNeeded(err);
      throw err;
    }
    return body;
  }
  // A server whose reads need a key: say exactly how to get one, and stop every panel's "Loading…".
  function keyNeeded(err) {
    $("key-needed").hidden = false;
    $("key-refused").textContent = localStorage.getItem(KEY_STORE)
      ? ` The saved key was refused (${err.message}): create a new one as above and save it.` : "";
    $("chart").replaceChildren(el("p", { class: "muted", id: "chart-needs-key" },
      "Needs a read key: run fragility keys create --scope read and paste the key above."));
    for (const id of ["versions", "jobs", "backtest", "spill-answer"]) {
      $(id).replaceChildren(el("p", { class: "muted" }, "Needs a read key (see above)."));
    }
  }

  const listOf = (body) => Array.isArray(body) ? body : (body?.data || []);

  function fillSelect(select, items, selected) {
    select.replaceChildren(...items.map(([value, label]) => el("option", { value }, label)));
    if (selected && items.some(([v]) => v === selected)) select.value = selected;
  }

  // ---------------------------------------------------------------- loading
  async function loadCatalogue() {
    const [regions, models, indicators] = await Promise.all([
      api("/v1/regions"), api("/v1/models").catch(() => ({ data: [] })),
      api("/v1/indicators").catch(() => ({ data: [] }))]);
    state.regions = new Map(listOf(regions).map((r) => [r.id, r]));
    state.models = listOf(models);
    state.indicators = listOf(indicators);
    if (!state.models.length) {
      notice("No models yet: create one with POST /v1/models (or run `fragility demo`). Showing observed data only.", "info");
      fillSelect($("model-select"), [["", "(no models)"]]);
    } else {
      fillSelect($("model-select"), state.models.map((m) => [m.name, `${m.name} · ${m.indicator}`]), params.get("model"));
    }
  }

  function modelRegions() {
    const ids = state.model?.regions?.length ? state.model.regions : [...state.regions.keys()];
    return ids.map((id) => [id, regionName(id)]);
  }

  function neighboursOf(id) {
    return (state.regions.get(id)?.neighbours || []).map((n) => (typeof n === "string" ? n : n.id));
  }

  async function selectModel() {
    state.model = state.models.find((m) => m.name === $("model-select").value) || null;
    const regions = modelRegions();
    fillSelect($("region-select"), regions, params.get("region") || $("region-select").value);
    const maxH = state.model?.horizon || 60;
    for (const id of ["horizon-input", "spill-horizon"]) $(id).max = maxH;
    const h = Math.min(Number(params.get("horizon") || $("horizon-input").value || 6), maxH);
    $("horizon-input").value = h; $("spill-horizon").value = h;
    fillSelect($("spill-source"), regions); fillSelect($("spill-target"), regions);
    defaultSpillPair();
    if (params.get("threshold")) $("spill-threshold").value = params.get("threshold");
    const m = state.model;
    $("model-summary").textContent = m
      ? `${m.family} model of “${m.indicator}” over ${m.regions.length || state.regions.size} regions` +
        `${m.spillover ? ", with spillover between neighbours" : ", no spillover"}` +
        ` · serving version ${m.served_version ?? "none yet"}${m.schedule ? ` · refits ${m.schedule}` : ""}`
      : "";
    await Promise.all([drawForecast(), loadVersions(), loadJobs(), loadSuggestions()]);
    if (params.get("source") && params.get("target") && m) {
      await askSpillover();
      params.delete("source");  // ask on load once only
    }
  }

  function defaultSpillPair() {
    const inModel = new Set(modelRegions().map(([id]) => id));
    const target = params.get("target") || $("region-select").value;
    const source = params.get("source") || neighboursOf(target).find((n) => inModel.has(n));
    if (target) $("spill-target").value = target;
    if (source) $("spill-source").value = source;
  }

  // Synthetic data are flagged (an indicator whose description says "synthetic", as the demo's does).
  function showDataNote(indicator) {
    const record = indicatorOf(indicator), box = $("synthetic-note");
    const synthetic = /synthetic/i.test(record?.description || "");
    box.hidden = !synthetic;
    box.textContent = synthetic ? `Synthetic data: the series of ${indicator} (“${record.description}”) are ` +
      "simulated, so the answers on this page say nothing about real events." : "";
  }

  // Suggested thresholds: the target's own 50th/75th/90th percentile of its last 24 months (GET /v1/series/thresholds).
  async function loadSuggestions() {
    const box = $("threshold-suggestions"), m = state.model, target = $("spill-target").value;
    $("threshold-unit").textContent = m && unitOf(m.indicator) ? `(${unitOf(m.indicator)})` : "";
    if (!m || !target) { box.replaceChildren(); return; }
    const q = new URLSearchParams({ region: target, indicator: m.indicator });
    const t = await api("/v1/series/thresholds?" + q).catch(() => null);
    if (!t) { box.replaceChildren(); return; }
    const name = (level) => level === 0.5 ? "median" : `${Math.round(100 * level)}th percentile`;
    box.replaceChildren(`Suggested thresholds for ${regionName(target)} (from its last ${t.months} months): `,
      ...t.suggestions.map((s) => el("button", { type: "button", class: "secondary suggestion", "data-threshold": s.threshold,
        title: `${name(s.level)} of ${t.start} to ${t.end} is ${+s.quantile.toFixed(2)}` }, `${name(s.level)}: ${s.threshold}`)));
    for (const button of box.querySelectorAll("button")) {
      button.onclick = () => { $("spill-threshold").value = button.dataset.threshold; state.thresholdChosen = true; };
    }
    const usual = t.suggestions.find((s) => s.level === 0.75);
    if (!state.thresholdChosen && usual) $("spill-threshold").value = usual.threshold;
  }

  // ---------------------------------------------------------------- chart
  function withGaps(points) {
    if (!points.length) return [];
    const byPeriod = new Map(points.map((p) => [p.period, p.value]));
    const last = points[points.length - 1].period;
    const out = [];
    for (let i = HISTORY_MONTHS - 1; i >= 0; i--) {
      const period = addMonths(last, -i);
      if (period >= points[0].period) out.push({ period, value: byPeriod.has(period) ? byPeriod.get(period) : null });
    }
    return out;
  }

  async function drawForecast() {
    const region = $("region-select").value, horizon = Number($("horizon-input").value);
    const m = state.model;
    const indicator = m?.indicator || params.get("indicator") || state.indicators[0]?.id;
    const unit = unitOf(indicator);
    $("chart-title").textContent = region ? `${regionName(region)} · ${indicator || ""}${unit ? ` (${unit})` : ""}` : "Forecast";
    showDataNote(indicator);
    const chart = $("chart"), table = $("forecast-table");
    if (!region || !indicator) { chart.replaceChildren(el("p", { class: "muted" }, "No region or indicator yet.")); return; }
    const q = new URLSearchParams({ region, indicator });
    const seriesP = api("/v1/series?" + q).catch((e) => ({ points: [], error: e }));
    let forecast = null, why = "";
    if (m) {
      const fq = new URLSearchParams({ region, horizon, quantiles: QUANTILES });
      forecast = await api(`/v1/models/${encodeURIComponent(m.name)}/forecast?` + fq).catch((e) => { why = e.text; return null; });
    }
    const series = await seriesP;
    window.FanChart.render(chart, { history: withGaps(series.points || []), steps: forecast?.steps || [],
      unit: forecast?.unit || unit || indicator });
    if (why) chart.append(el("p", { class: "muted small" }, "No forecast: " + why));
    const png = $("png-link");
    png.hidden = !forecast;
    if (forecast) {
      png.href = `/v1/models/${encodeURIComponent(m.name)}/forecast.png?` + new URLSearchParams({ region, horizon });
      chart.append(el("p", { class: "muted small" },
        `Version ${forecast.version} · ${forecast.draws} simulated paths · covariates ${forecast.covariates_mode || "none"}`));
      const { quantile: qv, decimalsFor, fixed } = window.FanChart;
      const levels = [0.05, 0.25, 0.5, 0.75, 0.95];
      const d = decimalsFor(forecast.steps.flatMap((s) => [s.mean, ...levels.map((l) => qv(s.quantiles, l))]));
      const f = (v) => fixed(v, d), range = (s, lo, hi) => `${f(qv(s.quantiles, lo))} – ${f(qv(s.quantiles, hi))}`;
      table.tBodies[0].replaceChildren(...forecast.steps.map((s) => el("tr", {},
        el("td", {}, s.period), el("td", {}, f(qv(s.quantiles, 0.5))), el("td", {}, f(s.mean)),
        el("td", {}, range(s, 0.25, 0.75)), el("td", {}, range(s, 0.05, 0.95)))));
      $("forecast-caption").textContent = `Values in ${forecast.unit || unit || indicator} per region and month.`;
    }
    table.hidden = !forecast;
  }

  // ---------------------------------------------------------------- spillover
  async function askSpillover(event) {
    event?.preventDefault();
    const box = $("spill-answer"), m = state.model;
    if (!m) { box.replaceChildren(el("p", { class: "muted" }, "Pick a model first.")); return; }
    const question = { source: $("spill-source").value, target: $("spill-target").value,
      threshold: Number($("spill-threshold").value), horizon: Number($("spill-horizon").value) };
    const button = document.querySelector("#spill-form button");
    button.disabled = true;
    box.replaceChildren(el("p", { class: "muted" }, "Simulating with and without the channel…"));
    try {
      const a = await api(`/v1/models/${encodeURIComponent(m.name)}/spillover`, { method: "POST", json: question });
      const [lo, hi] = a.attributable_interval;
      const credible = (iv) => iv ? ` (90% credible interval ${pct(iv[0])} to ${pct(iv[1])})` : "";
      const figure = (value, label, bar) => el("div", { class: "figure" }, el("div", { class: "value" }, value),
        el("div", { class: "label" }, label), bar === undefined ? "" :
          el("div", { class: "bar" }, el("span", { style: `width:${Math.max(0, Math.min(100, 100 * bar)).toFixed(1)}%` })));
      box.replaceChildren(
        el("p", { class: "headline", id: "spill-headline" },
          `P(${regionName(a.target)} ≥ ${a.threshold}${a.unit ? " " + a.unit : ""} in some month of the next ${a.horizon}) = ` +
          `${pct(a.probability)}; ` +
          `without ${regionName(a.source)}'s channel ${pct(a.probability_without_source)}.`),
        el("div", { class: "figures" },
          figure(pct(a.probability), `probability, all channels${credible(a.probability_interval)}`, a.probability),
          figure(pct(a.probability_without_source),
            `probability without ${a.source} → ${a.target}${credible(a.probability_without_source_interval)}`,
            a.probability_without_source),
          figure(`${pts(a.attributable)} pts`, `attributable to ${a.source} (90% credible interval ${pts(lo)} to ${pts(hi)} pts)`),
          a.channel_probability === null || a.channel_probability === undefined ? "" :
            figure(pct(a.channel_probability), `posterior probability that the ${a.source} → ${a.target} channel ` +
              `adds more than ${(100 * a.channel_min_effect).toFixed(0)} point`, a.channel_probability),
          figure(a.channel_share === null ? "–" : pct(a.channel_share), `share of ${a.target}'s expected level via ${a.source}`,
            a.channel_share ?? 0)),
        el("p", { class: "muted small" }, `Model ${a.model} v${a.version} · weights normalised by ${a.normalise}` +
          ` · ${a.interval_method || ""}` + (a.mc_standard_error ?
          ` · Monte Carlo error of the attributable difference ±${(100 * a.mc_standard_error.attributable).toFixed(1)} pts` : "")));
    } catch (e) {
      box.replaceChildren(el("p", { class: "reasons" }, e.text || String(e)));
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- versions, jobs, backtests
  // a table whose columns listed in `numeric` (indexes) are right-aligned
  function table(headers, rows, numeric = []) {
    const cls = (i) => (numeric.includes(i) ? { class: "num" } : {});
    return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", cls(i), h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", cls(i), c))))));
  }

  // the gate thresholds a version was judged by, named ("demo gate: R̂ ≤ 1.05, bulk ESS ≥ 200, divergences ≤ 5")
  function gateText(g) {
    if (!g || g.max_rhat == null) return "gate thresholds not recorded";
    return `${g.name || "gate"}: R̂ ≤ ${g.max_rhat}, bulk ESS ≥ ${g.min_ess_bulk}, divergences ≤ ${g.max_divergences}`;
  }

  async function loadVersions() {
    const box = $("versions"), m = state.model;
    if (!m) { box.replaceChildren(el("p", { class: "muted" }, "No model selected.")); return; }
    try {
      const body = await api(`/v1/models/${encodeURIComponent(m.name)}/versions`);
      const versions = listOf(body);
      if (!versions.length) { box.replaceChildren(el("p", { class: "muted" }, "Not fitted yet.")); return; }
      box.replaceChildren(table(
        ["Version", "Fitted", "Sampler", "R̂ max", "ESS bulk min", "ESS tail min", "Divergences", "Compile + sampling (s)", "Gate", "Status"],
        versions.map((v) => {
          const d = v.diagnostics || {}, s = v.sampler || {};
          const gate = el("div", {}, el("span", { class: "pill " + (v.gate.passed ? "ok" : "bad") }, v.gate.passed ? "passed" : "failed"),
            el("p", { class: "muted gate-limits" }, gateText(d.gate)),
            v.gate.reasons.length ? el("p", { class: "reasons" }, v.gate.reasons.join("; ")) : "");
          const status = v.broken ? el("span", { class: "pill bad", title: v.broken }, "broken")
            : v.served ? el("span", { class: "pill ok" }, "serving")
            : el("span", { class: "pill neutral" }, v.promoted ? "promoted" : "kept");
          return [`v${v.version}`, when(v.created_at), `${s.method || "?"} ${s.chains ?? ""}×${s.draws ?? ""}`,
            num(d.rhat_max), num(d.ess_bulk_min, 0), num(d.ess_tail_min, 0), num(d.divergences, 0),
            num(d.seconds, 1), gate, status];
        }), [3, 4, 5, 6, 7]));
    } catch (e) {
      box.replaceChildren(el("p", { class: "reasons" }, e.text || String(e)));
    }
  }

  async function loadJobs() {
    const box = $("jobs"), m = state.model;
    if (!m) { box.replaceChildren(el("p", { class: "muted" }, "No model selected.")); return; }
    try {
      const jobs = listOf(await api(`/v1/models/${encodeURIComponent(m.name)}/jobs?limit=15`));
      box.replaceChildren(jobs.length ? table(["Job", "Kind", "Status", "Created", "Job total (s)", "Result"],
        jobs.map((j) => [`#${j.id}`, `${j.kind}${j.reason !== "explicit" ? ` (${j.reason})` : ""}`,
          el("span", { class: "pill " + ({ succeeded: "ok", failed: "bad", cancelled: "bad", skipped: "neutral" }[j.status] || "neutral") }, j.status),
          when(j.created_at), num(j.seconds, 1),
          j.error ? el("span", { class: "reasons", title: j.error }, j.error.slice(0, 80))
            : j.version ? `v${j.version}` : (j.kind === "backtest" && j.status === "succeeded" ? "scores below" : "")]),
        [4])
        : el("p", { class: "muted" }, "No jobs yet."));
      const backtest = jobs.find((j) => j.kind === "backtest" && j.status === "succeeded");
      await loadBacktest(backtest?.id);
    } catch (e) {
      box.replaceChildren(el("p", { class: "reasons" }, e.text || String(e)));
    }
  }

  const SCORE_COLUMNS = [["forecaster", "Forecaster"], ["horizon", "Horizon"], ["crps", "CRPS"],
    ["crps_log1p", "CRPS (log1p)"], ["coverage50", "50% coverage"], ["coverage90", "90% coverage"], ["n", "Cells"]];

  async function loadBacktest(jobId) {
    const box = $("backtest");
    if (!jobId) { box.replaceChildren(el("p", { class: "muted" }, "No backtest yet.")); return; }
    const b = await api(`/v1/backtests/${jobId}`);
    const scores = b.scores || [];
    const best = new Map();  // horizon -> lowest CRPS
    for (const r of scores) if (isFinite(r.crps) && !(best.get(r.horizon) <= r.crps)) best.set(r.horizon, r.crps);
    const columns = SCORE_COLUMNS.filter(([key]) => scores.some((r) => key in r));
    const cell = (r, key) => key.startsWith("coverage") ? pct(r[key]) : key === "n" ? num(r[key], 0) : num(r[key]);
    const rows = scores.map((r) => columns.map(([key]) => key === "crps" && r.crps === best.get(r.horizon)
      ? el("strong", { title: "lowest CRPS at this horizon" }, cell(r, key)) : cell(r, key)));
    box.replaceChildren(el("p", { class: "muted small" }, `Job #${b.id}: ${b.origins} origins, ${b.step}-month step, ` +
      `horizon ${b.horizon}. Lower CRPS is better (bold: best per horizon); a calibrated forecaster covers 50% and 90%.`),
      el("div", { class: "scroll" }, table(columns.map(([, label]) => label), rows,
        columns.map((_, i) => i).filter((i) => columns[i][0] !== "forecaster"))));
  }

  // ---------------------------------------------------------------- wiring
  async function load() {
    try {
      await loadCatalogue();
      await selectModel();
    } catch (e) {
      if (e.status !== 401) notice(e.text || String(e));
    }
    document.body.dataset.ready = "1";
  }

  function start() {
    $("api-key").value = localStorage.getItem(KEY_STORE) || "";
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      localStorage.setItem(KEY_STORE, $("api-key").value.trim());
      notice(""); $("key-needed").hidden = true;
      $("chart").replaceChildren(el("p", { class: "muted" }, "Loading…"));
      load();
    });
    $("key-forget").addEventListener("click", () => { localStorage.removeItem(KEY_STORE); $("api-key").value = ""; });
    $("model-select").onchange = () => selectModel();
    $("region-select").onchange = () => { defaultSpillPair(); drawForecast(); loadSuggestions(); };
    $("spill-target").onchange = () => loadSuggestions();
    $("spill-threshold").oninput = () => { state.thresholdChosen = true; };
    $("horizon-input").onchange = () => drawForecast();
    $("spill-form").onsubmit = askSpillover;
    load();
  }

  document.addEventListener("DOMContentLoaded", start, { once: true });
})();
