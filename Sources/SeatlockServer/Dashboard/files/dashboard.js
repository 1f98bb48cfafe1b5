// The dashboard's script (dashboard.html): polls the API and draws the charts.
"use strict";

// Poll periods: counts are cheap and drive the history chart, so every second; the seat
// map (compact: a byte a seat) and /metrics only every two seconds. The queue summary
// (answered from the server's memory) every second, and only for a queued event.
const EVENT_POLL_MS = 1000;
const STATS_POLL_MS = 1000;
const SEATS_POLL_MS = 2000;
const METRICS_POLL_MS = 2000;
const QUEUE_POLL_MS = 1000;
const FETCH_TIMEOUT_MS = 8000;
const HISTORY_MS = 15 * 60 * 1000;
const RATE_WINDOW_SECONDS = 300;
const LATENCY_METRIC = "seatlock_http_request_duration_seconds";
const HOLD_ROUTE = "create_booking";
const SOURCES = ["event", "stats", "seats", "metrics", "queue"];   // "queue" only shown for a queued event

const eventId = (new URLSearchParams(location.search).get("event") || "").trim();
const css = getComputedStyle(document.documentElement);
const colour = name => css.getPropertyValue("--" + name).trim();
const FONT = colour("font") || "sans-serif";

const state = {
  event: null,
  stats: null,
  history: [],           // {t: ms, sold, held, available}, oldest first
  previousHistogram: null,
  serverOffsetMs: 0,
  lastSuccess: 0,
  results: {},           // source -> "ok" | error message
  drawn: { counts: false, rates: false, seatmap: false, queue: false },
  queued: false,         // the event has a `queue` object: it sells through its on-sale queue
  queuePolling: false,
  queueSettings: null,   // the event's `queue` object (opensAt, admitPerSecond, admissionSeconds)
  queue: null,           // the latest GET /v1/events/{e}/queue reply
  queueHistory: [],      // {t: ms, waiting, admitted}, oldest first
};

const el = id => document.getElementById(id);

// Every field of the API may be missing (old server, empty event): treat it as 0.
function num(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function formatInt(n) {
  return Math.round(num(n)).toLocaleString("en-US");
}

function formatCompact(n) {
  const a = Math.abs(n);
  const trim = s => s.replace(/\.0+$/, "").replace(/(\.\d*?)0+$/, "$1");
  if (a >= 1e6) return trim((n / 1e6).toFixed(a >= 1e7 ? 0 : 1)) + "M";
  if (a >= 1e3) return trim((n / 1e3).toFixed(a >= 1e4 ? 0 : 1)) + "k";
  return trim(n.toFixed(a >= 10 || Number.isInteger(n) ? 0 : 1));
}

function formatMoney(cents) {
  return (num(cents) / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

// The header box is narrow: millions would not fit with cents, so the exact value goes below.
function formatMoneyShort(cents) {
  const units = num(cents) / 100;
  return Math.abs(units) >= 1e6 ? formatCompact(units) : formatMoney(cents);
}

function formatPercent(fraction, digits = 1) {
  return (num(fraction) * 100).toFixed(digits) + "%";
}

function formatMs(ms) {
  if (!Number.isFinite(ms)) return "–";
  if (ms < 1) return ms.toFixed(2) + " ms";
  if (ms < 10) return ms.toFixed(1) + " ms";
  if (ms < 1000) return ms.toFixed(0) + " ms";
  return (ms / 1000).toFixed(2) + " s";
}

const pad2 = n => String(n).padStart(2, "0");
function clock(ms) {
  const d = new Date(ms);
  return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
}

function formatDuration(ms) {
  const s = Math.round(ms / 1000);
  return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + pad2(s % 60) + " s";
}

// ---------------------------------------------------------------- fetching

function eventPath(suffix) {
  return "/v1/events/" + encodeURIComponent(eventId) + suffix;
}

// A stuck request must not stop the page: each poller waits for its own request,
// so without a timeout one hung connection would freeze that panel for good.
async function fetchFrom(path, asText) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const response = await fetch(path, { signal: controller.signal, cache: "no-store" });
    noteServerClock(response);
    if (!response.ok) throw new Error(await describeHttpError(response));
    return asText ? await response.text() : await response.json();
  } catch (error) {
    if (error && error.name === "AbortError") throw new Error("no answer after " + FETCH_TIMEOUT_MS / 1000 + " s");
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function describeHttpError(response) {
  let detail = "";
  try {
    const body = await response.json();
    const error = body && typeof body.error === "object" ? body.error : body;
    detail = (error && (error.code || error.message || (typeof body.error === "string" ? body.error : ""))) || "";
  } catch (_) { /* not JSON: the status says enough */ }
  return "HTTP " + response.status + (detail ? " " + detail : "");
}

// The per-second series is keyed by the server's clock; the Date header tells how far
// the browser's clock is off, so "the last 5 minutes" means the server's 5 minutes.
function noteServerClock(response) {
  const header = response.headers.get("Date");
  const serverMs = header ? Date.parse(header) : NaN;
  if (!Number.isFinite(serverMs)) return;
  const offset = serverMs + 500 - Date.now();   // Date has whole seconds: assume mid-second
  state.serverOffsetMs = Math.abs(offset) < 1500 ? 0 : offset;
}

// Each source polls on its own timer and only after its previous request finished,
// so a slow /seats never piles up requests or delays the counters.
function startPolling(source, periodMs, task) {
  async function tick() {
    const started = performance.now();
    try {
      await task();
      state.results[source] = "ok";
      state.lastSuccess = Date.now();
    } catch (error) {
      state.results[source] = (error && error.message) || String(error);
    }
    renderStatus();
    setTimeout(tick, Math.max(0, periodMs - (performance.now() - started)));
  }
  tick();
}

function renderStatus() {
  el("status-updated").textContent = state.lastSuccess
    ? "event " + eventId + " · updated " + clock(state.lastSuccess)
    : "event " + eventId + " · waiting for the server…";
  const sources = el("status-sources");
  if (!sources.childElementCount) {
    for (const source of SOURCES) {
      const span = document.createElement("span");
      span.id = "status-" + source;
      span.textContent = source;
      sources.appendChild(span);
    }
  }
  const errors = [];
  for (const source of SOURCES) {
    const active = sourceActive(source);
    el("status-" + source).hidden = !active;
    if (!active) continue;
    const result = state.results[source];
    el("status-" + source).className = result === undefined ? "wait" : result === "ok" ? "ok" : "bad";
    if (result !== undefined && result !== "ok") errors.push(source + ": " + result);
  }
  const text = errors.length ? "error — " + errors.join(" · ") + " (still polling)" : "";
  el("status-error").textContent = text;
  el("status-error").title = text;
}

function sourceActive(source) {
  return source !== "queue" || state.queued;
}

// data-ready="1" (scripts/dashboard-shot waits for it) once the charts and the seat map show
// data, and for a queued event the queue panel too. Whether the event is queued is known
// from the event reply, which the counts chart needs anyway (pollEvent notes it first),
// so a direct event never waits for the queue.
function markDrawn(part) {
  state.drawn[part] = true;
  checkReady();
}

function checkReady() {
  const d = state.drawn;
  const queueDone = !state.queued || d.queue;
  if (d.counts && d.rates && d.seatmap && queueDone && document.body.dataset.ready !== "1") document.body.dataset.ready = "1";
}

// ---------------------------------------------------------------- header

async function pollEvent() {
  const event = await fetchFrom(eventPath(""));
  state.event = event;
  noteQueueSettings(event);   // before drawCountsChart: data-ready must know whether to wait for the queue
  recordHistory(event);
  renderHeader();
  drawCountsChart();
  if (state.queued) renderQueue();
}

function recordHistory(event) {
  const now = Date.now();
  state.history.push({ t: now, sold: num(event.sold), held: num(event.held), available: num(event.available) });
  while (state.history.length && state.history[0].t < now - HISTORY_MS) state.history.shift();
}

function renderHeader() {
  const event = state.event || {};
  const stats = state.stats || {};
  el("event-name").textContent = event.name || eventId;
  el("event-name").title = event.id || eventId;
  const capacity = num(event.capacity !== undefined ? event.capacity : stats.capacity);
  const meta = [];
  if (event.venue) meta.push(event.venue);
  if (event.startsAt) meta.push(formatStart(event.startsAt));
  meta.push("capacity " + formatInt(capacity));
  el("event-meta").textContent = meta.join(" · ");

  const counts = state.event ? event : stats;
  for (const key of ["sold", "held", "available"]) {
    el("kpi-" + key).textContent = formatInt(counts[key]);
    el("kpi-" + key + "-share").textContent = capacity > 0 ? formatPercent(num(counts[key]) / capacity) + " of capacity" : "\u00a0";
  }
  if (state.stats) {
    el("kpi-revenue").textContent = formatMoneyShort(stats.revenueCents);
    el("kpi-revenue-exact").textContent = formatMoney(stats.revenueCents);
    el("kpi-conversion").textContent = formatPercent(stats.conversion);
    el("kpi-active-buyers").textContent = formatInt(stats.activeBuyers);
  }
}

function formatStart(startsAt) {
  const date = new Date(typeof startsAt === "number" && startsAt < 1e11 ? startsAt * 1000 : startsAt);
  if (Number.isNaN(date.getTime())) return String(startsAt);
  return date.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

// ---------------------------------------------------------------- line charts

// Sizes the backing store to the element's CSS size times the device pixel ratio, so lines
// stay sharp on HiDPI screens; drawing code then works in CSS pixels.
function prepareCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  const pixelWidth = Math.max(1, Math.round(width * dpr)), pixelHeight = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
    canvas.width = pixelWidth;
    canvas.height = pixelHeight;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

// Round steps (1, 2, 2.5, 5 × 10^k) so the gridlines read as numbers a person would pick;
// never below 1 because every series here counts whole things.
function niceTicks(max, count) {
  const top = max > 0 ? max : 1;
  const rough = top / count;
  const magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
  const norm = rough / magnitude;
  const step = Math.max(1, (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * magnitude);
  const ticks = [];
  for (let v = 0; v < top + step * 0.999; v += step) ticks.push(v);
  if (ticks.length < 2) ticks.push(step);
  return ticks;
}

// series = {xs: [...], lines: [{label, colour, values: [...]}]}; a value that is not a finite
// number, or a jump in x larger than options.maxGap, breaks the line instead of bridging it
// (a stretch without data must not look like a steady state).
function drawLineChart(canvas, series, options) {
  const { ctx, width, height } = prepareCanvas(canvas);
  const pad = { left: 50, right: 14, top: 24, bottom: 22 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  if (plotW < 20 || plotH < 20) return;

  let maxY = 0;
  for (const line of series.lines) for (const v of line.values) if (v > maxY) maxY = v;
  const ticks = niceTicks(maxY, Math.max(2, Math.min(5, Math.floor(plotH / 45))));
  const yMax = ticks[ticks.length - 1];
  const xMin = options.xMin, xMax = options.xMax > options.xMin ? options.xMax : options.xMin + 1;
  const xOf = x => pad.left + (x - xMin) / (xMax - xMin) * plotW;
  const yOf = y => pad.top + plotH - y / yMax * plotH;

  ctx.font = "11px " + FONT;
  ctx.lineWidth = 1;
  ctx.strokeStyle = colour("grid");
  ctx.fillStyle = colour("muted");
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks) {
    const y = Math.round(yOf(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(pad.left + plotW, y);
    ctx.stroke();
    ctx.fillText(formatCompact(v), pad.left - 6, y);
  }

  const xLabels = Math.max(1, Math.floor(plotW / 110));
  ctx.textBaseline = "top";
  for (let i = 0; i <= xLabels; i++) {
    const x = xMin + (xMax - xMin) * i / xLabels;
    ctx.textAlign = i === 0 ? "left" : i === xLabels ? "right" : "center";
    ctx.fillText(options.formatX(x), xOf(x), pad.top + plotH + 6);
  }

  ctx.save();
  ctx.beginPath();
  ctx.rect(pad.left, pad.top - 2, plotW, plotH + 4);
  ctx.clip();
  ctx.lineWidth = 1.75;
  ctx.lineJoin = "round";
  for (const line of series.lines) {
    ctx.strokeStyle = line.colour;
    ctx.fillStyle = line.colour;
    ctx.beginPath();
    let penDown = false;
    for (let i = 0; i < series.xs.length; i++) {
      const v = line.values[i];
      if (!Number.isFinite(v)) { penDown = false; continue; }
      const gap = penDown && options.maxGap && series.xs[i] - series.xs[i - 1] > options.maxGap;
      const x = xOf(series.xs[i]), y = yOf(v);
      if (penDown && !gap) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      penDown = true;
    }
    ctx.stroke();
    if (series.xs.length === 1) {   // a single poll has no segment to stroke: show it as a dot
      ctx.beginPath();
      ctx.arc(xOf(series.xs[0]), yOf(num(line.values[0])), 2.5, 0, Math.PI * 2);
      ctx.fill();
    }
  }
  ctx.restore();

  drawChartLegend(ctx, series.lines, pad.left, 11, options.formatValue || formatInt);
}

// The legend carries the latest value, so the chart answers "how many right now" too.
function drawChartLegend(ctx, lines, x, y, formatValue) {
  ctx.font = "12px " + FONT;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  for (const line of lines) {
    const last = line.values.length ? line.values[line.values.length - 1] : NaN;
    ctx.fillStyle = line.colour;
    ctx.fillRect(x, y - 1.5, 12, 3);
    x += 17;
    const label = line.label + " " + (Number.isFinite(last) ? formatValue(last) : "–");
    ctx.fillStyle = colour("text");
    ctx.fillText(label, x, y);
    x += ctx.measureText(label).width + 16;
  }
}

// A history kept by the page ({t: ms, ...} oldest first, one point a poll) as lines over time;
// keys = [[label, CSS colour name, field], ...]. Returns how much time the history covers.
function drawHistoryChart(canvas, history, keys) {
  const xMax = history[history.length - 1].t;
  // At least a minute wide, so the first few polls do not stretch across the whole chart.
  const xMin = Math.min(history[0].t, xMax - 60 * 1000);
  drawLineChart(canvas, {
    xs: history.map(p => p.t),
    lines: keys.map(([label, name, field]) => ({ label, colour: colour(name), values: history.map(p => p[field]) })),
  }, { xMin, xMax, maxGap: 5000, formatX: clock });
  return xMax - history[0].t;
}

function drawCountsChart() {
  const history = state.history;
  if (!history.length) return;
  const span = drawHistoryChart(el("counts-chart"), history,
    [["sold", "sold", "sold"], ["held", "held", "held"], ["available", "available", "available"]]);
  el("counts-window").textContent = formatDuration(span) + " of history (max 15 min)";
  markDrawn("counts");
}

// ---------------------------------------------------------------- on-sale queue

const QUEUE_STATUS_TEXT = { prequeue: "prequeue", open: "open", paused: "paused", sold_out: "sold out", closed: "closed" };

// The event's `queue` object says it sells through an on-sale queue (a queue cannot be added or
// removed later): only then is the panel shown and GET …/queue polled.
function noteQueueSettings(event) {
  const settings = event && event.queue && typeof event.queue === "object" ? event.queue : null;
  state.queueSettings = settings;
  const queued = settings !== null;
  if (queued === state.queued) return;
  state.queued = queued;
  document.body.dataset.queue = queued ? "1" : "0";
  el("queue-panel").hidden = !queued;
  if (queued && !state.queuePolling) {
    state.queuePolling = true;
    startPolling("queue", QUEUE_POLL_MS, pollQueue);
  }
  renderStatus();
  checkReady();
}

async function pollQueue() {
  if (!state.queued) return;
  const queue = await fetchFrom(eventPath("/queue"));
  state.queue = queue && typeof queue === "object" ? queue : {};
  recordQueueHistory(state.queue);
  renderQueue();
  drawQueueChart();
  markDrawn("queue");
}

// The first of the values that is neither missing nor null.
function pick(...values) {
  return values.find(v => v !== undefined && v !== null);
}

// ISO 8601 (as the API sends), or a number of seconds or milliseconds since the epoch; NaN otherwise.
function parseTime(value) {
  if (typeof value === "number") return value < 1e11 ? value * 1000 : value;
  if (typeof value === "string" && value) return Date.parse(value);
  return NaN;
}

function servingPosition(queue) {
  return num(pick(queue.servingPosition, queue.admitted));
}

function recordQueueHistory(queue) {
  const now = Date.now();
  state.queueHistory.push({ t: now, waiting: num(queue.waiting), admitted: servingPosition(queue) });
  while (state.queueHistory.length && state.queueHistory[0].t < now - HISTORY_MS) state.queueHistory.shift();
}

// Today's times as a clock; another day's with the date in front.
function formatMoment(ms) {
  const date = new Date(ms);
  if (date.toDateString() === new Date().toDateString()) return clock(ms);
  return date.toLocaleDateString("en-US", { month: "short", day: "numeric" }) + " " + clock(ms);
}

function formatCountdown(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 3600) return formatDuration(s * 1000);
  const h = Math.floor(s / 3600);
  return h < 48 ? h + " h " + pad2(Math.floor((s % 3600) / 60)) + " min" : formatInt(Math.floor(h / 24)) + " days";
}

function formatSeconds(ms) {
  const s = Math.max(0, ms / 1000);
  return (s < 100 ? s.toFixed(1) : formatInt(s)) + " s";
}

// From the latest queue reply, or (before the first one) from the event's queue settings.
function renderQueue() {
  const settings = state.queueSettings || {};
  const reply = state.queue;
  const q = reply || {};
  const status = reply ? String(q.status || "") : "";
  const known = Object.prototype.hasOwnProperty.call(QUEUE_STATUS_TEXT, status);
  const badge = el("queue-status");
  badge.textContent = reply ? (known ? QUEUE_STATUS_TEXT[status] : status || "unknown") : "…";
  badge.dataset.status = reply ? (known ? status : "unknown") : "";
  badge.title = reply ? "queue status: " + (status || "not reported") : "waiting for the queue summary";

  const nowMs = Date.now() + state.serverOffsetMs;   // opensAt and soldOutAt are the server's times
  const opensAt = parseTime(pick(q.opensAt, settings.opensAt));
  const soldOutAt = parseTime(q.soldOutAt);

  el("queue-waiting").textContent = reply ? formatInt(q.waiting) : "–";
  el("queue-waiting-sub").textContent = status === "prequeue" ? "in the prequeue" : reply ? "not admitted yet" : "\u00a0";
  el("queue-admitted").textContent = reply ? formatInt(servingPosition(q)) : "–";

  const automatic = typeof q.automatic === "boolean" ? q.automatic : num(settings.admitPerSecond) === 0;
  const rate = num(pick(q.admitPerSecond, automatic ? undefined : settings.admitPerSecond));
  el("queue-rate").textContent = reply || !automatic ? formatCompact(rate) + "/s" : "automatic";
  el("queue-rate-sub").textContent = automatic ? (reply ? "automatic" : "pace not known yet") : "fixed rate";
  el("queue-rate-sub").title = automatic ? "automatic admission: the pace observed lately" : "the configured rate";

  el("queue-opens").textContent = Number.isFinite(opensAt) ? formatMoment(opensAt) : "–";
  el("queue-opens").title = Number.isFinite(opensAt) ? new Date(opensAt).toISOString() : "";
  let opens = "\u00a0";
  if (Number.isFinite(opensAt)) {
    const left = opensAt - nowMs;
    if (status === "prequeue" || (!reply && left > 0)) opens = left > 0 ? "in " + formatCountdown(left) : "opening…";
    else if (left <= 0) opens = formatCountdown(-left) + " ago";
    else opens = "in " + formatCountdown(left);
  }
  el("queue-opens-sub").textContent = opens;
  el("queue-opens-sub").title = opens.trim();

  el("queue-soldout").textContent = Number.isFinite(soldOutAt) ? formatMoment(soldOutAt) : "–";
  el("queue-soldout").title = Number.isFinite(soldOutAt) ? new Date(soldOutAt).toISOString() : "";
  let soldOut = reply ? "not sold out" : "";
  if (Number.isFinite(soldOutAt)) {
    const parts = [];
    if (Number.isFinite(opensAt)) parts.push(formatSeconds(soldOutAt - opensAt) + " after open");
    if (status === "open" || status === "paused") parts.push("seats came back");
    soldOut = parts.join(" · ");
  } else if (status === "sold_out") {
    soldOut = "time not reported";
  }
  el("queue-soldout-sub").textContent = soldOut || "\u00a0";
  el("queue-soldout-sub").title = Number.isFinite(soldOutAt) && Number.isFinite(opensAt)
    ? soldOut + " (" + formatDuration(Math.max(0, soldOutAt - opensAt)) + " after opensAt)" : soldOut;

  const summary = [];
  if (reply) summary.push(formatInt(q.available) + " available");
  if (settings.admissionSeconds !== undefined && settings.admissionSeconds !== null) summary.push("admission " + formatDuration(num(settings.admissionSeconds) * 1000));
  const history = state.queueHistory;
  if (history.length) summary.push(formatDuration(history[history.length - 1].t - history[0].t) + " of history");
  el("queue-summary").textContent = summary.join(" · ");
}

function drawQueueChart() {
  if (!state.queueHistory.length) return;
  drawHistoryChart(el("queue-chart"), state.queueHistory, [["waiting", "waiting", "waiting"], ["admitted", "admitted", "admitted"]]);
}

// ---------------------------------------------------------------- stats

async function pollStats() {
  const stats = await fetchFrom(eventPath("/stats"));
  state.stats = stats;
  renderHeader();
  renderPayments(stats.totals || {});
  renderTimeToConfirm(stats.holdToConfirmMs || {});
  drawRatesChart();
}

// The series only lists seconds that had activity: rebuild the full per-second axis with
// zeros, ending at the last complete second (the current one is still filling up).
function ratesFromSeries(series, endSecond, seconds) {
  const bySecond = new Map();
  for (const entry of Array.isArray(series) ? series : []) {
    if (!entry) continue;
    let t = num(entry.t);
    if (t > 1e11) t = Math.floor(t / 1000);   // tolerate milliseconds
    bySecond.set(Math.floor(t), entry);
  }
  const rates = { xs: [], holds: [], confirmations: [], expiries: [] };
  for (let t = endSecond - seconds + 1; t <= endSecond; t++) {
    const entry = bySecond.get(t) || {};
    rates.xs.push(t);
    rates.holds.push(num(entry.holds));
    rates.confirmations.push(num(entry.confirmations));
    rates.expiries.push(num(entry.expiries));
  }
  return rates;
}

function lastSeriesSecond(series) {
  let last = 0;
  for (const entry of Array.isArray(series) ? series : []) if (entry) last = Math.max(last, num(entry.t));
  return last > 1e11 ? Math.floor(last / 1000) : last;
}

function drawRatesChart() {
  if (!state.stats) return;
  const series = state.stats.series;
  let nowSecond = Math.floor((Date.now() + state.serverOffsetMs) / 1000);
  // No Date header and a server clock ahead of ours: follow the data rather than hide it.
  const newest = lastSeriesSecond(series);
  if (newest > nowSecond + 1) nowSecond = newest;
  const rates = ratesFromSeries(series, nowSecond - 1, RATE_WINDOW_SECONDS);
  drawLineChart(el("rates-chart"), {
    xs: rates.xs,
    lines: [
      { label: "holds/s", colour: colour("holds"), values: rates.holds },
      { label: "confirmations/s", colour: colour("confirmations"), values: rates.confirmations },
      { label: "expiries/s", colour: colour("expiries"), values: rates.expiries },
    ],
  }, { xMin: rates.xs[0], xMax: rates.xs[rates.xs.length - 1], formatX: t => clock((t - state.serverOffsetMs / 1000) * 1000) });
  const sum = values => values.reduce((a, b) => a + b, 0);
  el("rates-summary").textContent = formatInt(sum(rates.holds)) + " holds · " +
    formatInt(sum(rates.confirmations)) + " confirmed · " + formatInt(sum(rates.expiries)) + " expired";
  markDrawn("rates");
}

function renderPayments(totals) {
  const outcomes = {
    completed: num(totals.paymentsCompleted),
    failed: num(totals.paymentsFailed),
    refunded: num(totals.paymentsRefunded),
  };
  const all = outcomes.completed + outcomes.failed + outcomes.refunded;
  for (const key of Object.keys(outcomes)) {
    const share = all > 0 ? outcomes[key] / all : 0;
    el("pay-seg-" + key).style.width = (share * 100).toFixed(2) + "%";
    el("pay-" + key).textContent = formatInt(outcomes[key]) + (all > 0 ? " (" + formatPercent(share) + ")" : "");
  }
  el("payments-bar").title = all > 0 ? "" : "no payment has finished yet";
  el("pay-requested").textContent = formatInt(totals.paymentsRequested);
  for (const key of ["bookingsInitiated", "holds", "confirmations", "expiries", "releases", "cancellations"]) {
    el("total-" + key).textContent = formatInt(totals[key]);
  }
}

function renderTimeToConfirm(histogram) {
  const count = num(histogram.count);
  for (const q of ["p50", "p90", "p99"]) {
    el("confirm-" + q).textContent = count > 0 ? formatMs(num(histogram[q])) : "–";
  }
  el("confirm-count").textContent = formatInt(count);
}

// ---------------------------------------------------------------- latency from /metrics

// Text exposition format: `name{k="v",...} value [timestamp]`. Label values may hold
// escaped quotes, commas and braces, hence a small scanner instead of a regular expression.
function parsePrometheus(text) {
  const samples = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line[0] === '#') continue;   // HELP, TYPE and comments
    const sample = parseSampleLine(line);
    if (sample) samples.push(sample);
  }
  return samples;
}

function parseSampleLine(line) {
  const isNameChar = c => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c === "_" || c === ":";
  let i = 0;
  while (i < line.length && isNameChar(line[i])) i++;
  const name = line.slice(0, i);
  if (!name) return null;
  const labels = {};
  while (line[i] === " ") i++;
  if (line[i] === "{") {
    i++;
    for (;;) {
      while (line[i] === " " || line[i] === ",") i++;
      if (line[i] === "}") { i++; break; }
      const start = i;
      while (i < line.length && isNameChar(line[i])) i++;
      const key = line.slice(start, i);
      while (line[i] === " ") i++;
      if (!key || line[i] !== "=") return null;
      i++;
      while (line[i] === " ") i++;
      if (line[i] !== '"') return null;
      i++;
      let value = "";
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && i + 1 < line.length) {
          value += line[i + 1] === "n" ? "\n" : line[i + 1];
          i += 2;
        } else {
          value += line[i++];
        }
      }
      if (line[i] !== '"') return null;
      i++;
      labels[key] = value;
    }
  }
  const value = parsePromNumber(line.slice(i).trim().split(/\s+/)[0]);
  return value === null ? null : { name, labels, value };
}

function parsePromNumber(text) {
  if (text === undefined || text === "") return null;
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}

// One histogram per route, whatever else is labelled (status, method, loop...): buckets with
// the same upper bound are summed. Keyed by the parsed bound, so "0.005" and "5e-3" agree.
function histogramBuckets(samples, metric, route) {
  const byBound = new Map();
  const bucketName = metric + "_bucket";
  for (const sample of samples) {
    if (sample.name !== bucketName || sample.labels.route !== route) continue;
    const le = parsePromNumber(sample.labels.le);
    if (le === null || Number.isNaN(le) || !Number.isFinite(sample.value)) continue;
    byBound.set(le, (byBound.get(le) || 0) + sample.value);
  }
  return byBound;
}

function sortedBuckets(byBound) {
  return Array.from(byBound, ([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

// Counts added since the previous scrape. A counter that went down means the server
// restarted: then the cumulative counts are the recent ones and there is no delta.
function bucketDelta(current, previous) {
  if (!previous) return null;
  const delta = new Map();
  for (const [le, count] of current) {
    const d = count - (previous.get(le) || 0);
    if (d < 0) return null;
    delta.set(le, d);
  }
  return delta;
}

// Prometheus histogram_quantile: find the bucket holding rank q·total, interpolate linearly
// between its bounds (the first bucket starts at 0); a rank in the +Inf bucket answers the
// highest finite bound, since nothing more is known. NaN without a +Inf bucket or data.
function histogramQuantile(q, buckets) {
  if (buckets.length < 2 || buckets[buckets.length - 1].le !== Infinity) return NaN;
  // Buckets scraped from several label sets can be a little out of step; Prometheus also
  // forces the cumulative counts to be monotonic before searching.
  const counts = [];
  let running = 0;
  for (const bucket of buckets) {
    running = Math.max(running, bucket.count);
    counts.push(running);
  }
  const total = counts[counts.length - 1];
  if (!(total > 0)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const rank = q * total;
  let b = 0;
  while (b < counts.length - 1 && counts[b] < rank) b++;
  if (b === buckets.length - 1) return buckets[buckets.length - 2].le;
  if (b === 0 && buckets[0].le <= 0) return buckets[0].le;
  const lower = b === 0 ? 0 : buckets[b - 1].le;
  const below = b === 0 ? 0 : counts[b - 1];
  const inBucket = counts[b] - below;
  if (inBucket <= 0) return buckets[b].le;
  return lower + (buckets[b].le - lower) * ((rank - below) / inBucket);
}

async function pollMetrics() {
  const text = await fetchFrom("/metrics", true);
  const at = performance.now();
  const current = histogramBuckets(parsePrometheus(text), LATENCY_METRIC, HOLD_ROUTE);
  const previous = state.previousHistogram;
  const delta = previous ? bucketDelta(current, previous.buckets) : null;
  state.previousHistogram = { buckets: current, at };

  const recent = delta ? sortedBuckets(delta) : [];
  const recentCount = recent.length ? recent[recent.length - 1].count : 0;
  if (recentCount > 0) {
    renderHoldLatency(recent, "last " + ((at - previous.at) / 1000).toFixed(1) + " s");
    return;
  }
  // Nothing new since the last scrape (idle, or the first scrape): show the whole run.
  const cumulative = sortedBuckets(current);
  const total = cumulative.length ? cumulative[cumulative.length - 1].count : 0;
  renderHoldLatency(cumulative, total > 0 ? "cumulative (no new requests)" : "no " + HOLD_ROUTE + " requests yet");
}

function renderHoldLatency(buckets, windowText) {
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  for (const [q, key] of [[0.5, "p50"], [0.9, "p90"], [0.99, "p99"]]) {
    el("hold-" + key).textContent = formatMs(histogramQuantile(q, buckets) * 1000);
  }
  el("hold-count").textContent = formatInt(total);
  el("latency-window").textContent = "hold: " + windowText + " (/metrics) · hold → confirmed: since start (stats)";
}

// ---------------------------------------------------------------- seat map

const STATUS_CODES = { available: 0, held: 1, sold: 2 };
const STATUS_NAMES = ["available", "held", "sold", "unknown"];
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// ImageData pixels are RGBA bytes; written as 32-bit words their order depends on the CPU.
function packColour(hex) {
  const match = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  const v = match ? parseInt(match[1], 16) : 0x808080;
  const r = (v >> 16) & 255, g = (v >> 8) & 255, b = v & 255;
  return LITTLE_ENDIAN ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
}

const seatMap = {
  layout: null,      // rebuilt only when the list of seat ids changes
  placement: null,   // rebuilt when the layout or the canvas size changes
  status: null,      // Uint8Array of STATUS_CODES, same order as layout.ids
  prices: null,
  image: null,
};

async function pollSeats() {
  // The compact map (a byte a seat) works for any size; the full one stops at 20,000 seats.
  const body = await fetchFrom(eventPath("/seats?format=compact"));
  applySeats(body && Array.isArray(body.sections) ? expandCompact(body.sections) : []);
  drawSeatMap();
  markDrawn("seatmap");
}

// {"id","rows","seatsPerRow","priceCents","status":"aahs…"} per section, row by row:
// back to one {id, status, priceCents} per seat, the shape the rest of the page reads.
const COMPACT_STATUS = { a: "available", h: "held", s: "sold" };
function expandCompact(sections) {
  const seats = [];
  for (const section of sections) {
    const perRow = num(section.seatsPerRow), status = String(section.status || "");
    for (let i = 0; i < status.length; i++) {
      const row = Math.floor(i / perRow) + 1, number = (i % perRow) + 1;
      seats.push({ id: `${section.id}-${row}-${number}`, status: COMPACT_STATUS[status[i]], priceCents: section.priceCents });
    }
  }
  return seats;
}

function applySeats(seats) {
  if (!seatMap.layout || !sameSeatIds(seatMap.layout.ids, seats)) {
    seatMap.layout = buildSeatLayout(seats);
    seatMap.placement = null;
  }
  const status = new Uint8Array(seats.length);
  const prices = new Float64Array(seats.length);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < seats.length; i++) {
    const code = STATUS_CODES[seats[i].status];
    status[i] = code === undefined ? 3 : code;
    prices[i] = num(seats[i].priceCents);
    counts[status[i]]++;
  }
  seatMap.status = status;
  seatMap.prices = prices;
  el("legend-available").textContent = formatInt(counts[0]);
  el("legend-held").textContent = formatInt(counts[1]);
  el("legend-sold").textContent = formatInt(counts[2]);
}

function sameSeatIds(ids, seats) {
  if (ids.length !== seats.length) return false;
  for (let i = 0; i < ids.length; i++) if (ids[i] !== String(seats[i].id)) return false;
  return true;
}

// SECTION-ROW-NUMBER, split from the right because a section id may itself contain '-'.
function splitSeatId(id) {
  const parts = id.split("-");
  if (parts.length >= 3) return { section: parts.slice(0, -2).join("-"), row: parts[parts.length - 2], number: parts[parts.length - 1] };
  if (parts.length === 2) return { section: parts[0], row: "", number: parts[1] };
  return { section: "", row: "", number: id };
}

function compareKeys(a, b) {
  const x = Number(a), y = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

// Grid position of every seat: sections in the order the server lists them, rows and seats
// sorted by their numbers and packed (an odd numbering cannot blow up the map's size).
// The per-section grid maps a cell back to its seat for the hover readout.
function buildSeatLayout(seats) {
  const n = seats.length;
  const ids = new Array(n);
  const secOf = new Int32Array(n), rowOf = new Int32Array(n), colOf = new Int32Array(n);
  const sections = [];
  const sectionIndex = new Map();
  const parsed = new Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = String(seats[i].id);
    const p = splitSeatId(ids[i]);
    parsed[i] = p;
    let s = sectionIndex.get(p.section);
    if (s === undefined) {
      s = sections.length;
      sectionIndex.set(p.section, s);
      sections.push({ id: p.section, rowsByKey: new Map(), rows: 0, cols: 0, count: 0, grid: null });
    }
    secOf[i] = s;
    const section = sections[s];
    section.count++;
    let row = section.rowsByKey.get(p.row);
    if (!row) section.rowsByKey.set(p.row, row = []);
    row.push(i);
  }
  for (const section of sections) {
    const rowKeys = Array.from(section.rowsByKey.keys()).sort(compareKeys);
    section.rows = rowKeys.length;
    rowKeys.forEach((key, r) => {
      const members = section.rowsByKey.get(key);
      members.sort((a, b) => compareKeys(parsed[a].number, parsed[b].number));
      members.forEach((seat, c) => { rowOf[seat] = r; colOf[seat] = c; });
      section.cols = Math.max(section.cols, members.length);
    });
    section.grid = new Int32Array(section.rows * section.cols).fill(-1);
    section.rowsByKey.forEach(members => {
      for (const seat of members) section.grid[rowOf[seat] * section.cols + colOf[seat]] = seat;
    });
    section.rowsByKey = null;
  }
  return { ids, secOf, rowOf, colOf, sections };
}

// Largest seat pitch (device pixels) at which every section fits, sections laid out in shelves:
// side by side while they fit the width, then a new shelf below. From 3 px up a seat keeps a
// 1 px gap so single seats stay distinguishable; at 1-2 px the seats touch.
function placeSections(sections, width, height, dpr) {
  const labelH = Math.round(16 * dpr), gap = Math.round(12 * dpr), margin = Math.round(4 * dpr);
  const minLabelW = Math.round(28 * dpr);
  const innerW = width - 2 * margin, innerH = height - 2 * margin;
  let packing = null, pitch = Math.max(2, Math.round(8 * dpr));
  for (; pitch >= 1; pitch--) {
    packing = shelfPack(sections, pitch, innerW, labelH, gap, minLabelW);
    if (packing.fits && packing.height <= innerH) break;
  }
  pitch = Math.max(1, pitch);
  // Centre the whole arrangement; a map that fits nowhere is clipped rather than squeezed.
  const offsetX = margin + Math.max(0, Math.floor((innerW - packing.width) / 2));
  const offsetY = margin + Math.max(0, Math.floor((innerH - packing.height) / 2));
  for (const box of packing.boxes) { box.x += offsetX; box.y += offsetY; }
  return { boxes: packing.boxes, pitch, square: pitch >= 3 ? pitch - 1 : pitch, labelH, width, height, dpr };
}

function shelfPack(sections, pitch, maxWidth, labelH, gap, minLabelW) {
  const boxes = [];
  let x = 0, y = 0, shelfH = 0, usedW = 0, fits = true;
  for (const section of sections) {
    const w = Math.max(section.cols * pitch, minLabelW), h = labelH + section.rows * pitch;
    if (w > maxWidth) fits = false;
    if (x > 0 && x + w > maxWidth) { y += shelfH + gap; x = 0; shelfH = 0; }
    boxes.push({ x, y, w, h });
    usedW = Math.max(usedW, x + w);
    x += w + gap;
    shelfH = Math.max(shelfH, h);
  }
  return { boxes, fits, width: usedW, height: y + shelfH };
}

// One putImageData per refresh instead of 50,000 fillRect calls: writing 32-bit pixels
// into a reused buffer costs a few milliseconds even for the largest venue.
function drawSeatMap() {
  const layout = seatMap.layout;
  if (!layout || !seatMap.status) return;
  const canvas = el("seatmap");
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const height = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  let placement = seatMap.placement;
  if (!placement || placement.layout !== layout || placement.width !== width || placement.height !== height) {
    placement = seatMap.placement = placeSections(layout.sections, width, height, dpr);
    placement.layout = layout;
  }
  const ctx = canvas.getContext("2d");
  if (!seatMap.image || seatMap.image.width !== width || seatMap.image.height !== height) {
    seatMap.image = ctx.createImageData(width, height);
  }
  const pixels = new Uint32Array(seatMap.image.data.buffer);
  pixels.fill(0);   // transparent: the panel's background shows through
  const palette = [packColour(colour("available")), packColour(colour("held")), packColour(colour("sold")), packColour(colour("unknown"))];
  const { boxes, pitch, square, labelH } = placement;
  const { secOf, rowOf, colOf } = layout;
  const status = seatMap.status;
  for (let i = 0; i < status.length; i++) {
    const box = boxes[secOf[i]];
    const x0 = box.x + colOf[i] * pitch, y0 = box.y + labelH + rowOf[i] * pitch;
    if (x0 < 0 || y0 < 0 || x0 + square > width || y0 + square > height) continue;
    const c = palette[status[i]];
    for (let dy = 0; dy < square; dy++) {
      const start = (y0 + dy) * width + x0;
      pixels.fill(c, start, start + square);
    }
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.putImageData(seatMap.image, 0, 0);

  ctx.font = Math.round(11 * dpr) + "px " + FONT;
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  layout.sections.forEach((section, s) => {
    const box = boxes[s];
    const label = (section.id || "seats") + " · " + formatInt(section.count);
    ctx.fillStyle = colour("text");
    ctx.fillText(label, box.x, box.y + labelH - Math.round(5 * dpr), Math.max(box.w, Math.round(28 * dpr)));
  });
}

function seatAt(canvas, offsetX, offsetY) {
  const placement = seatMap.placement, layout = seatMap.layout;
  if (!placement || !layout || !canvas.clientWidth) return -1;
  const scale = canvas.width / canvas.clientWidth;
  const x = offsetX * scale, y = offsetY * scale;
  for (let s = 0; s < layout.sections.length; s++) {
    const section = layout.sections[s], box = placement.boxes[s];
    const col = Math.floor((x - box.x) / placement.pitch);
    const row = Math.floor((y - box.y - placement.labelH) / placement.pitch);
    if (col >= 0 && col < section.cols && row >= 0 && row < section.rows) return section.grid[row * section.cols + col];
  }
  return -1;
}

function showSeatUnderPointer(event) {
  const seat = seatAt(event.currentTarget, event.offsetX, event.offsetY);
  const hover = el("seatmap-hover");
  if (seat < 0 || !seatMap.status || seat >= seatMap.status.length) { hover.textContent = ""; return; }
  hover.textContent = seatMap.layout.ids[seat] + " · " + STATUS_NAMES[seatMap.status[seat]] + " · " + formatMoney(seatMap.prices[seat]);
}

// ---------------------------------------------------------------- start

// Canvases follow their panels: redraw from the data already held, at most once a frame.
function watchSizes() {
  const redraws = new Map([["counts-chart", drawCountsChart], ["rates-chart", drawRatesChart], ["seatmap", drawSeatMap], ["queue-chart", drawQueueChart]]);
  const pending = new Set();
  const observer = new ResizeObserver(entries => {
    for (const entry of entries) pending.add(entry.target.id);
    requestAnimationFrame(() => {
      for (const id of pending) {
        try { redraws.get(id)(); } catch (error) { console.error("redraw " + id, error); }
      }
      pending.clear();
    });
  });
  for (const id of redraws.keys()) observer.observe(el(id));
}

function showEventForm() {
  el("dashboard").hidden = true;
  el("kpis").hidden = true;
  el("event-form-wrap").hidden = false;
  el("event-meta").textContent = "no event selected";
  el("status-updated").textContent = "choose an event to start polling";
  document.body.dataset.mode = "form";
  el("event-input").select();
}

function main() {
  if (!eventId) { showEventForm(); return; }
  document.body.dataset.mode = "event";
  document.title = eventId + " · Seatlock live";
  el("event-name").textContent = eventId;
  el("seatmap").addEventListener("mousemove", showSeatUnderPointer);
  el("seatmap").addEventListener("mouseleave", () => { el("seatmap-hover").textContent = ""; });
  renderStatus();
  watchSizes();
  startPolling("event", EVENT_POLL_MS, pollEvent);
  startPolling("stats", STATS_POLL_MS, pollStats);
  startPolling("seats", SEATS_POLL_MS, pollSeats);
  startPolling("metrics", METRICS_POLL_MS, pollMetrics);
}

main();
