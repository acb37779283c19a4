// The projector page (/live): every request the server answers, as it arrives from /live/events, coloured by
// who answered it (nginx itself: static; a worker: dynamic), counted, and charted per second. Text from the
// stream (paths come from strangers) is only ever set with textContent.
"use strict";

const root = document.getElementById("live");
const MESSAGES = JSON.parse(root.dataset.messages);
const LANG = root.dataset.lang;
const MAX_ROWS = 200; // the log keeps the newest rows only: a class makes thousands a minute
const MAX_NEWS = 12; // what happened: the latest few, so the list never pushes the page down
const SILENT_MS = 5000; // "alive" comes every 2 s: this long without any event, and the stream counts as stopped
const RETRY_MS = 2000; // a stream the browser gave up on is tried again this often
const PROBE_MS = 3000; // no look at why the stream was refused waits longer
const DRAW_MS = 100; // rows and counters are drawn in batches, at most this long after they arrive
const CHART_SECONDS = 60;
const REMEMBERED_IDS = 2000;
const SVG = "http://www.w3.org/2000/svg";
// The chart's drawing area: its viewBox is the element's own size in CSS pixels, so its text keeps its size on a
// phone and on a projector alike.
const CHART_HEIGHT = 240;
const PLOT = { left: 44, rightMargin: 10, top: 12, bottom: 204 };

function say(key, values = {}) {
  return MESSAGES[key].replace(/\{(\w+)\}/g, (_, name) =>
    name === "time" && typeof values.time === "number" ? clock(values.time) : String(values[name]),
  );
}

// A moment as this device's clock shows it, 24-hour HH:MM:SS (the table's heading names the clock).
function clock(milliseconds) {
  const moment = new Date(milliseconds);
  return [moment.getHours(), moment.getMinutes(), moment.getSeconds()]
    .map((part) => String(part).padStart(2, "0"))
    .join(":");
}

// A moment the server names, on this device's clock (a phone's clock may be off by seconds or more).
function fromServer(milliseconds) {
  return milliseconds + (state.serverOffset ?? 0);
}

function count(value) {
  return Number(value).toLocaleString(LANG);
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

// ---- what the page knows ---------------------------------------------------------------------------------

const state = {
  source: root.dataset.source,
  pid: null, // the process streaming to this page
  hellos: 0, // a second hello is a reconnection: what it replays was missed, not history from before the page
  historyLeft: 0, // how many of the next requests the server replays from before this connection
  seenIds: new Set(), // the last requests' ids: a stream started afresh replays some this page already has
  lastId: "", // the newest request's id: a stream this page starts itself asks to resume after it
  workers: new Map(), // number -> {number, pid, what: "alive" | "died" | "hung" | "back", at}
  counts: { static: 0, dynamic: 0, byWorker: new Map() },
  seconds: new Map(), // second (server clock) -> Map(series -> requests)
  serverOffset: null, // this device's clock minus the server's, from the heartbeat (times shown are this device's)
  pendingRows: [],
  drawTimer: null,
};

function isStatic(request) {
  return request.by === "nginx";
}

// The chart's series of a request: "static", or the worker that made it ("w1", "w2"; "w0" for uvicorn alone).
// A flood's summary counts some dynamic requests by no worker: those are "dynamic".
function seriesOf(request) {
  return isStatic(request) ? "static" : `w${request.worker ?? 0}`;
}

function seriesName(series) {
  if (series === "static") return say("static");
  if (series === "dynamic") return say("dynamic");
  const number = Number(series.slice(1));
  if (number === 0) return say("byUvicorn", { pid: state.pid ?? "?" });
  const worker = state.workers.get(number);
  return say("byWorker", { number, pid: worker ? worker.pid : "?" });
}

function seriesClass(series) {
  if (series === "static" || series === "dynamic") return `live-s-${series}`;
  return `live-s-w${((Number(series.slice(1)) + 3) % 4) + 1}`;
}

// ---- the request log -------------------------------------------------------------------------------------

function who(request) {
  if (request.who === 0) return say("instructor");
  if (request.who === null || request.who === undefined) return say("unknown");
  return say("student", { number: request.who });
}

function answeredBy(request) {
  if (request.how === "file") return say("byDisk");
  if (request.how === "cache") return say("byCache");
  if (isStatic(request)) return say("byNginx");
  const made = request.worker
    ? say("byWorker", { number: request.worker, pid: request.pid })
    : say("byUvicorn", { pid: request.pid });
  return ["MISS", "EXPIRED"].includes(request.cache) ? `${made} (${say("cacheMiss")})` : made;
}

function milliseconds(value) {
  if (typeof value !== "number") return "–";
  return `${value.toLocaleString(LANG, { maximumFractionDigits: value < 10 ? 1 : 0 })} ms`;
}

function summaryRow(facts) {
  const line = element("tr", "live-summary");
  const cell = element("td", "", `${clock(fromServer(facts.at))} `);
  cell.colSpan = 8;
  const counted = facts.static + facts.dynamic;
  const values = { count: count(counted), static: count(facts.static), dynamic: count(facts.dynamic) };
  if (counted) cell.append(element("span", "", say("summary", values)), " ");
  if (facts.unreadable) cell.append(element("span", "", say("unreadable", { count: count(facts.unreadable) })));
  line.append(cell);
  return line;
}

function row(request) {
  if (request.summary) return summaryRow(request.summary);
  const line = element("tr", isStatic(request) ? "live-static" : "live-dynamic");
  if (request.mine) line.classList.add("mine");

  line.append(element("td", "live-time", clock(fromServer(request.at))));
  const asker = element("td", "live-who", who(request));
  if (request.mine) asker.append(" ", element("strong", "live-mine", say("you")));
  line.append(asker);
  const method = element("td", "live-method");
  method.append(element("code", "", request.method));
  line.append(method);
  const path = element("td", "live-path");
  if (request.path === null || request.path === undefined) path.append(element("span", "muted", say("hiddenPath")));
  else path.append(element("code", "", request.path));
  line.append(path);
  line.append(element("td", `live-code status-${Math.floor(request.status / 100)}xx`, String(request.status)));
  line.append(element("td", "live-ms num", milliseconds(request.ms)));
  line.append(element("td", "live-bytes num", `${count(request.bytes)} B`));
  line.append(element("td", "live-by", answeredBy(request)));
  return line;
}

function drawSoon() {
  if (state.drawTimer === null) state.drawTimer = setTimeout(drawNow, DRAW_MS);
}

function drawNow() {
  state.drawTimer = null;
  const rows = state.pendingRows.splice(0).slice(-MAX_ROWS).reverse(); // newest on top
  if (rows.length) {
    const body = document.getElementById("live-rows");
    body.prepend(...rows.map(row));
    while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
    document.getElementById("live-empty").hidden = true;
  }
  drawCounts();
  drawWorkers();
}

function drawCounts() {
  document.getElementById("count-static").textContent = count(state.counts.static);
  document.getElementById("count-dynamic").textContent = count(state.counts.dynamic);
}

// ---- counting and the chart ------------------------------------------------------------------------------

function chart(at, series, requests) {
  const second = Math.floor(at / 1000);
  if (!state.seconds.has(second)) state.seconds.set(second, new Map());
  const bucket = state.seconds.get(second);
  bucket.set(series, (bucket.get(series) || 0) + requests);
}

function countWorker(number, requests) {
  state.counts.byWorker.set(number, (state.counts.byWorker.get(number) || 0) + requests);
}

function note(request, counted) {
  chart(request.at, seriesOf(request), 1);
  if (!counted) return;
  if (isStatic(request)) state.counts.static += 1;
  else {
    state.counts.dynamic += 1;
    countWorker(request.worker ?? 0, 1);
  }
}

function serverNow() {
  return Date.now() - (state.serverOffset ?? 0);
}

// The last 60 seconds, oldest first: for each, the requests per series.
function lastMinute() {
  const now = Math.floor(serverNow() / 1000);
  for (const second of state.seconds.keys()) if (second <= now - CHART_SECONDS) state.seconds.delete(second);
  const first = now - CHART_SECONDS + 1;
  return Array.from({ length: CHART_SECONDS }, (_, index) => state.seconds.get(first + index) || new Map());
}

function chartSeries(minute) {
  const found = new Set(["static"]);
  for (const number of state.workers.keys()) found.add(`w${number}`);
  for (const bucket of minute) for (const series of bucket.keys()) found.add(series);
  const order = (series) => (series === "static" ? -1 : series === "dynamic" ? 1e9 : Number(series.slice(1)));
  return [...found].sort((a, b) => order(a) - order(b));
}

// A round number at or above `value` for the top of the chart, whose half is a whole number too: 2, 4, 10, 20, 40 …
function roundUp(value) {
  let step = 1;
  while (step * 10 < value) step *= 10;
  return [step * 2, step * 4, step * 10].find((top) => top >= value);
}

function svg(tag, attributes, text) {
  const made = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, String(value));
  if (text !== undefined) made.textContent = text;
  return made;
}

function drawChart() {
  const minute = lastMinute();
  const series = chartSeries(minute);
  const totals = minute.map((bucket) => [...bucket.values()].reduce((sum, value) => sum + value, 0));
  const top = roundUp(Math.max(1, ...totals));
  const chart = document.getElementById("live-chart");
  const width = Math.max(320, Math.round(chart.getBoundingClientRect().width) || 640);
  chart.setAttribute("viewBox", `0 0 ${width} ${CHART_HEIGHT}`);
  const right = width - PLOT.rightMargin;
  const height = PLOT.bottom - PLOT.top;
  const slot = (right - PLOT.left) / CHART_SECONDS;
  const parts = [];

  for (const value of [0, top / 2, top]) {
    const y = PLOT.bottom - (value / top) * height;
    parts.push(svg("line", { x1: PLOT.left, x2: right, y1: y, y2: y, class: "live-grid" }));
    parts.push(svg("text", { x: PLOT.left - 6, y: y + 5, class: "live-axis", "text-anchor": "end" }, count(value)));
  }
  minute.forEach((bucket, index) => {
    let y = PLOT.bottom;
    for (const name of series) {
      const value = bucket.get(name) || 0;
      if (!value) continue;
      const barHeight = (value / top) * height;
      y -= barHeight;
      const x = PLOT.left + index * slot + 0.5;
      parts.push(svg("rect", { x, y, width: Math.max(1, slot - 1.5), height: barHeight, class: seriesClass(name) }));
    }
  });
  const labels = [
    [PLOT.left, "start", say("secondsAgo", { seconds: CHART_SECONDS })],
    [(PLOT.left + right) / 2, "middle", say("secondsAgo", { seconds: CHART_SECONDS / 2 })],
    [right, "end", say("now")],
  ];
  for (const [x, anchor, text] of labels) {
    parts.push(svg("text", { x, y: PLOT.bottom + 24, class: "live-axis", "text-anchor": anchor }, text));
  }
  chart.replaceChildren(...parts);
  drawLegend(minute, series, totals);
}

function drawLegend(minute, series, totals) {
  const legend = document.getElementById("live-legend");
  const sums = series.map((name) => [name, minute.reduce((sum, bucket) => sum + (bucket.get(name) || 0), 0)]);
  legend.replaceChildren(
    ...sums.map(([name, sum]) => {
      const item = element("li");
      const swatch = element("span", `live-swatch ${seriesClass(name)}`);
      item.append(swatch, element("span", "", `${seriesName(name)}: ${count(sum)}`));
      return item;
    }),
  );
  const peak = Math.max(0, ...totals);
  const parts = sums.map(([name, sum]) => `${seriesName(name)} ${count(sum)}`).join(", ");
  document.getElementById("live-chart-summary").textContent = say("chartSummary", { parts, peak: count(peak) });
}

// ---- workers and what happened ---------------------------------------------------------------------------

function drawWorkers() {
  const list = document.getElementById("live-workers");
  if (state.source === "app") {
    list.replaceChildren(element("li", "", say("noWorkers", { pid: state.pid ?? "?" })));
    return;
  }
  const items = [...state.workers.values()]
    .sort((a, b) => a.number - b.number)
    .map((worker) => {
      const key = { alive: "workerAlive", died: "workerDied", hung: "workerHung", back: "workerBack" }[worker.what];
      const item = element("li", `live-worker live-worker-${worker.what}`);
      const requests = state.counts.byWorker.get(worker.number) || 0;
      item.append(
        element("span", `live-swatch ${seriesClass(`w${worker.number}`)}`),
        element("span", "", say(key, { number: worker.number, pid: worker.pid, time: worker.at })),
        element("span", "live-worker-count", say("workerRequests", { count: count(requests) })),
      );
      return item;
    });
  list.replaceChildren(...items);
}

function news(key, values = {}, at = Date.now()) {
  const list = document.getElementById("live-news");
  list.querySelector(".muted")?.remove();
  const item = element("li");
  item.append(element("time", "live-news-time", clock(at)), " ", element("span", "", say(key, values)));
  list.prepend(item);
  while (list.children.length > MAX_NEWS) list.lastElementChild.remove();
}

// ---- the connection --------------------------------------------------------------------------------------

let stream = null;
let lastHeard = Date.now();
let lostSince = null; // when the stream stopped, while it is stopped
let retryTimer = null;
let refusal = null; // the server's sentence for refusing the stream (too many pages open), until it streams again

function status(key, values, connected) {
  const line = document.getElementById("live-status");
  line.textContent = say(key, values);
  line.dataset.state = connected ? "connected" : "waiting";
}

function notice(text) {
  const box = document.getElementById("live-notices");
  box.textContent = text;
  box.hidden = !text;
}

function connect() {
  if (stream) stream.close();
  clearTimeout(retryTimer);
  // The browser sends Last-Event-ID when it reconnects by itself; a stream this page starts again (after a
  // refusal or nginx's 502) says it in the address instead, so the server still counts what was missed.
  const resume = state.lastId ? `?last_event_id=${encodeURIComponent(state.lastId)}` : "";
  stream = new EventSource(root.dataset.events + resume);
  for (const [name, handler] of Object.entries(HANDLERS)) {
    stream.addEventListener(name, (event) => {
      lastHeard = Date.now();
      if (event.lastEventId) state.lastId = event.lastEventId;
      handler(JSON.parse(event.data), event.lastEventId);
    });
  }
  stream.onerror = () => {
    if (stream.readyState === EventSource.CLOSED) {
      whyClosed();
    } else if (lostSince === null) {
      status("reconnecting", {}, false); // the browser connects again by itself, sending the last event's id
    }
  };
}

// The browser gave up on the stream (an answer that is not a stream): a cap's 429 or 503 says why and when
// to come back; anything else (nginx's page for "no worker answers") is tried again shortly.
async function whyClosed() {
  refusal = null;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), PROBE_MS);
  let wait = RETRY_MS;
  try {
    const answer = await fetch(root.dataset.events, { cache: "no-store", signal: controller.signal });
    if (answer.status === 502 || answer.status === 504) noWorkerAnswers();
    const json = (answer.headers.get("content-type") || "").includes("json");
    if ((answer.status === 429 || answer.status === 503) && json) {
      refusal = say("refused", { detail: (await answer.json()).detail });
      wait = Math.max(1, Number(answer.headers.get("retry-after")) || 5) * 1000;
    }
  } catch (error) {
    // nothing answers at all: the notice says so
  } finally {
    clearTimeout(timer);
    controller.abort(); // a stream that did answer is not read here: the new EventSource reads it
  }
  lost();
  retryTimer = setTimeout(connect, wait);
}

// The stream stopped: said once, with why (the server's refusal, or no worker to stream); what was shown stays.
function lost() {
  status("reconnecting", {}, false);
  notice(refusal ?? say("down"));
  if (lostSince !== null) return;
  lostSince = lastHeard;
  if (refusal === null) news("lostNews");
}

function watchdog() {
  if (Date.now() - lastHeard >= SILENT_MS) {
    lost();
    if (stream && stream.readyState === EventSource.OPEN) connect(); // an open stream that says nothing is stuck
  }
  drawChart();
}

// What hello says of a worker: a death or a return this page did not hear of (it was disconnected) shows too.
// A worker's death or return is said once, whether the page learns it from a `worker` event or from the
// workers a reconnection's hello lists (after a break, both may tell it).
const toldOfWorkers = new Set();
function workerNews(key, number, pid, values, at) {
  const told = `${number}:${pid}:${key === "backNews" ? "back" : "gone"}`;
  if (toldOfWorkers.has(told)) return;
  toldOfWorkers.add(told);
  news(key, values, at);
}

function learnWorker(worker) {
  const known = state.workers.get(worker.number);
  if (!known) {
    state.workers.set(worker.number, { ...worker, what: worker.alive ? "alive" : "died", at: null });
  } else if (worker.alive && known.pid !== worker.pid) {
    if (known.what !== "died") workerNews("diedNews", worker.number, known.pid, { number: worker.number, pid: known.pid });
    state.workers.set(worker.number, { ...worker, what: "back", at: Date.now() });
    workerNews("backNews", worker.number, worker.pid, { number: worker.number, newPid: worker.pid });
  } else if (!worker.alive && known.what !== "died") {
    state.workers.set(worker.number, { ...worker, what: "died", at: Date.now() });
    workerNews("diedNews", worker.number, worker.pid, { number: worker.number, pid: worker.pid });
  } else if (worker.alive && known.what === "hung") {
    state.workers.set(worker.number, { ...worker, what: "alive", at: null });
  }
}

// nginx answered the stream itself with 502 or 504: no worker answers it, whatever this page heard last.
function noWorkerAnswers() {
  for (const worker of state.workers.values()) {
    if (worker.what === "alive" || worker.what === "back") {
      Object.assign(worker, { what: "hung", at: lostSince ?? Date.now() });
    }
  }
  drawWorkers();
}

// Whether a request's id is new to this page; it is remembered (the last REMEMBERED_IDS of them).
function remember(id) {
  if (state.seenIds.has(id)) return false;
  state.seenIds.add(id);
  if (state.seenIds.size > REMEMBERED_IDS) state.seenIds.delete(state.seenIds.values().next().value);
  return true;
}

const HANDLERS = {
  hello(facts) {
    state.hellos += 1;
    state.historyLeft = facts.history || 0;
    state.source = facts.source;
    state.pid = facts.pid;
    document.getElementById("live-app-notice").hidden = facts.source !== "app";
    status(facts.source === "app" ? "connectedApp" : "connectedNginx", { pid: facts.pid }, true);
    refusal = null;
    notice("");
    if (lostSince !== null) {
      news("back", { seconds: ((Date.now() - lostSince) / 1000).toFixed(1) });
      lostSince = null;
    }
    if (facts.missed > 0) news("missedReconnect", { count: count(facts.missed) });
    else if (facts.missed_known === false && state.hellos > 1) news("missedUnknown");
    showYou(facts);
    for (const worker of facts.workers || []) learnWorker(worker);
    drawSoon();
  },
  request(request, id) {
    const replayed = request.replayed ?? state.historyLeft > 0;
    state.historyLeft = Math.max(0, state.historyLeft - 1);
    if (id && !remember(id)) return; // this page has it already (a stream started afresh replays the last few)
    if (state.serverOffset === null && !replayed) state.serverOffset = Date.now() - request.at;
    // History replayed on the first connection happened before this page opened: listed and charted, not counted.
    note(request, !replayed || state.hellos > 1);
    state.pendingRows.push(request);
    if (state.pendingRows.length > MAX_ROWS) state.pendingRows.splice(0, state.pendingRows.length - MAX_ROWS);
    drawSoon();
  },
  // A flood: the requests the server did not send one by one, counted by who answered them.
  summary(facts) {
    const workers = Object.entries(facts.workers || {}).map(([number, requests]) => [Number(number), requests]);
    const byWorkers = workers.reduce((sum, [, requests]) => sum + requests, 0);
    chart(facts.at, "static", facts.static);
    for (const [number, requests] of workers) chart(facts.at, `w${number}`, requests);
    chart(facts.at, "dynamic", Math.max(0, facts.dynamic - byWorkers));
    state.counts.static += facts.static;
    state.counts.dynamic += facts.dynamic;
    for (const [number, requests] of workers) countWorker(number, requests);
    state.pendingRows.push({ summary: facts });
    drawSoon();
  },
  missed(facts) {
    const keys = { slow: "missedSlow", reconnect: "missedReconnect", "log-restarted": "missedLog" };
    const key = keys[facts.why] || "missedUnknown";
    news(key, { count: count(facts.count) });
  },
  worker(facts) {
    const pid = facts.what === "back" ? facts.new_pid : facts.pid;
    state.workers.set(facts.number, { number: facts.number, pid, what: facts.what, at: fromServer(facts.at) });
    const key = { died: "diedNews", hung: "hungNews", back: "backNews" }[facts.what];
    const values = { number: facts.number, pid: facts.pid, newPid: facts.new_pid };
    workerNews(key, facts.number, facts.what === "back" ? facts.new_pid : facts.pid, values, fromServer(facts.at));
    drawSoon();
  },
  log(facts) {
    const key = { restarted: "logRestarted", missing: "logMissing", back: "logBack" }[facts.what];
    if (key) news(key, {}, fromServer(facts.at));
  },
  alive(facts) {
    state.serverOffset = Date.now() - facts.at;
  },
};

function showYou(facts) {
  const line = document.getElementById("live-you");
  let name = null;
  if (facts.instructor) name = say("instructor");
  else if (facts.you === 0) name = say("instructor");
  else if (typeof facts.you === "number") name = say("student", { number: facts.you });
  line.hidden = name === null;
  if (name !== null) line.textContent = say("youAre", { who: name });
}

function start() {
  status("connecting", {}, false);
  drawChart();
  connect();
  setInterval(watchdog, 1000);
}

start();
