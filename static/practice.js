// The practice page: hears from the server (/practice/events) what the learner just did and turns each step
// of the lesson green with what happened and why. Progress is kept in this browser (localStorage) only.
"use strict";

const root = document.getElementById("practice");
const MESSAGES = JSON.parse(root.dataset.messages);
const STORE_KEY = "practice-progress-2";
const SILENT_MS = 3000; // the stream says "alive" every second: three missed, and the server counts as down
const FETCH_MS = 3000; // no request of this page waits longer
const STALE_CONNECTION_MS = 30000; // a stream still unanswered after this long is replaced
const SHOWN_CHARACTERS = 200;
const TERMINAL_LINES = 6;
const LESSON_NOTICE_MS = 60000; // the wrong-file warning stays a minute: the learner has read it or put the file back
const STEPS = ["server", "ping", "code", "template", "translation", "static", "compare", "stack"];

// Values under these names are moments (milliseconds since 1970), said as a clock time in the page's language.
const MOMENTS = new Set(["time", "since", "saved", "loaded"]);

function say(key, values = {}) {
  return MESSAGES[key].replace(/\{(\w+)\}/g, (_, name) =>
    MOMENTS.has(name) && typeof values[name] === "number" ? clock(values[name]) : String(values[name]),
  );
}

function clock(milliseconds) {
  return milliseconds ? new Date(milliseconds).toLocaleTimeString(root.dataset.lang) : "?";
}

// What the learner has done, as facts: each step's result is a message key and its values, so that it
// reads in the page's language after a switch.
let progress = load();

function load() {
  try {
    const kept = JSON.parse(localStorage.getItem(STORE_KEY));
    if (kept && kept.results) return kept;
  } catch (error) {
    // nothing kept, or something this page cannot read: start afresh
  }
  return { results: {}, pid: null, ping: null, codeSavedAt: null, requests: {}, lines: [] };
}

function save() {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(progress));
  } catch (error) {
    // private browsing with no storage: the page still works, it only forgets on reload
  }
}

function stepElement(name) {
  return document.getElementById(`step-${name}`);
}

function mark(name, state, lines) {
  const step = stepElement(name);
  step.classList.remove("todo", "done", "problem");
  step.classList.add(state);
  step.querySelector(".status").textContent = MESSAGES[state];
  if (lines) {
    step.querySelector(".result").textContent = lines.map(([key, values]) => say(key, values)).join(" ");
  }
}

function finish(name, ...lines) {
  progress.results[name] = lines;
  save();
  mark(name, "done", lines);
}

function showProgress() {
  for (const name of STEPS) {
    const lines = progress.results[name];
    mark(name, lines ? "done" : "todo", lines || []);
  }
  document.getElementById("terminal-lines").textContent = progress.lines.join("\n");
  const code = progress.results.code;
  if (code) stepElement("code").querySelector(".why").textContent = say(code[0][0] === "codeDone" ? "codeWhy" : "codeWhyByHand");
}

// The box at the top: what is wrong right now, one sentence each, with the command to run where there is one.
const notices = new Map();

function notice(name, key, values, command) {
  notices.set(name, { text: say(key, values), command });
  drawNotices();
}

function clearNotice(name) {
  if (notices.delete(name)) drawNotices();
}

function drawNotices() {
  const box = document.getElementById("practice-notices");
  box.replaceChildren();
  for (const { text, command } of notices.values()) {
    const paragraph = document.createElement("p");
    paragraph.textContent = text;
    box.append(paragraph);
    if (command) {
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      code.textContent = command;
      pre.append(code);
      box.append(pre);
    }
  }
  box.hidden = notices.size === 0;
}

// README's command, with the port this server was started on when it is not the default: copied as shown, it
// starts the server where this page is.
function command(readme) {
  const port = hello && /--port[ =](\d+)/.exec(hello.command || "");
  return port ? `${readme} --port ${port[1]}` : readme;
}

async function fetchWithin(url, options = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_MS);
  try {
    return await fetch(url, { ...options, cache: "no-store", signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

// What /ping answers now, as the learner's browser would show it (cut after 200 characters).
async function askPing() {
  const response = await fetchWithin(`${root.dataset.ping}?from=practice`);
  const text = await response.text();
  const json = (response.headers.get("content-type") || "").includes("json");
  if (!response.ok && json) {
    notice("ping", "pingError", { status: response.status, detail: JSON.parse(text).detail });
    return null;
  }
  if (!response.ok || !json) {
    notice("ping", "pingFailed", { status: response.status });
    return null;
  }
  clearNotice("ping");
  if (text === "null") notice("ping", "pingNull", {});
  return text.length > SHOWN_CHARACTERS
    ? `${text.slice(0, SHOWN_CHARACTERS)}… ${say("pingLong", { count: text.length })}`
    : text;
}

// ---- the stream -------------------------------------------------------------------------------------------

let source = null;
let connectedAt = 0;
let lastHeard = 0;
let silentSince = null; // when the server stopped answering
let restart = null; // the code save that is restarting the server: {file, saved, deleted}
let hello = null;

function connect() {
  if (source) source.close();
  source = new EventSource(root.dataset.events);
  connectedAt = lastHeard = Date.now();
  for (const [name, handler] of Object.entries(HANDLERS)) {
    source.addEventListener(name, (event) => {
      lastHeard = Date.now();
      handler(JSON.parse(event.data));
    });
  }
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) whoIsThere();
  };
}

// A stream refused for good (a 403, a 404): say why, or find out what answers on this port instead.
async function whoIsThere() {
  try {
    const stream = await fetchWithin(root.dataset.events);
    if (stream.status === 403 || stream.status === 429) {
      const body = await stream.json();
      notice("refused", "refused", { detail: body.detail });
      if (stream.status === 429) setTimeout(connect, Number(stream.headers.get("retry-after") || 5) * 1000);
      return;
    }
    const ping = await fetchWithin(root.dataset.ping);
    const schema = await fetchWithin("/openapi.json");
    const paths = schema.ok ? Object.keys((await schema.json()).paths || {}) : [];
    if (ping.ok && paths.length === 1 && paths[0] === "/ping") {
      notice("other", "otherApp", { value: await ping.text() }, command(root.dataset.reloadCommand));
    } else {
      notice("other", "otherAppUnknown", {});
    }
  } catch (error) {
    return; // nothing answers: the watchdog says so
  }
  setTimeout(connect, SILENT_MS);
}

function watchdog() {
  if (Date.now() - lastHeard < SILENT_MS) return;
  if (silentSince === null) {
    silentSince = lastHeard;
    const since = silentSince;
    if (restart && restart.deleted) notice("down", "downDeleted", { since, file: restart.file });
    else if (restart) notice("down", "down", { since, file: restart.file, saved: restart.saved });
    else notice("down", "downUnknown", { since });
    clearNotice("code");
    mark("server", "problem", [["notAnswering", { since }]]);
    stepElement("server").querySelector(".reload").textContent = "";
  }
  // While the new process cannot start, uvicorn's reloader keeps the port open: the stream's connection
  // waits there and is served as soon as the learner's fix starts a process, so it is kept. Only a very
  // long wait gets a fresh one, in case something on the way gave up on it.
  if (Date.now() - connectedAt > STALE_CONNECTION_MS) connect();
}

const HANDLERS = {
  async hello(facts) {
    hello = facts;
    clearNotice("other");
    clearNotice("refused");
    if (silentSince !== null) {
      const seconds = ((Date.now() - silentSince) / 1000).toFixed(1);
      notice("back", "back", { pid: facts.pid, seconds });
      setTimeout(() => clearNotice("back"), 10000);
      silentSince = null;
    }
    clearNotice("down");
    clearNotice("code");
    showServer(facts);
    showProblems(facts.problems);
    const before = { pid: progress.pid, ping: progress.ping, codeSavedAt: progress.codeSavedAt };
    const ping = await askPing().catch(() => null);
    if (before.pid !== null && before.pid !== facts.pid && facts.code_saved_at !== before.codeSavedAt) {
      if (ping !== null && ping !== before.ping) {
        const byReload = facts.reload === "on";
        const ms = Math.max(0, facts.answering_since - facts.code_saved_at);
        const values = { oldPid: before.pid, newPid: facts.pid, ms, before: before.ping, after: ping };
        finish("code", [byReload ? "codeDone" : "codeDoneByHand", values]);
        stepElement("code").querySelector(".why").textContent = say(byReload ? "codeWhy" : "codeWhyByHand");
      } else if (ping !== null && !progress.results.code) {
        // The same value from a new process: a restart after a typo was fixed keeps it, and that is no news.
        mark("code", "problem", [["codeSameValue", { pid: facts.pid }]]);
      }
    }
    restart = null;
    progress.pid = facts.pid;
    if (ping !== null) progress.ping = ping; // an error answer is said above; the value to compare stays
    progress.codeSavedAt = facts.code_saved_at;
    save();
  },
  alive() {
    clearNotice("down");
    silentSince = null;
  },
  "code-saved"(facts) {
    notice("code", "codeSaved", { file: facts.path, time: facts.saved_at });
  },
  restarting(facts) {
    restart = { file: facts.path, saved: facts.saved_at, deleted: facts.deleted };
    notice("code", "restarting", { file: facts.path, time: facts.saved_at, pid: facts.pid });
  },
  stale(facts) {
    clearNotice("code");
    notice(
      "stale",
      "stale",
      { file: facts.path, saved: facts.saved_at, pid: facts.pid, loaded: facts.loaded_at },
      command(root.dataset.reloadCommand),
    );
    mark("server", "problem");
  },
  async edit(facts) {
    const values = { path: facts.path, time: facts.saved_at, pid: facts.pid };
    if (facts.change === "deleted") {
      notice(`deleted ${facts.path}`, "deleted", values);
      return;
    }
    clearNotice(`deleted ${facts.path}`);
    if (facts.kind === "lesson") {
      const app = hello ? hello.app || "webapp.main:app" : "webapp.main:app";
      const file = hello ? hello.app_file : "webapp/main.py";
      notice("lesson", "lessonSaved", { path: facts.path, file, app }, command(root.dataset.lessonCommand));
      setTimeout(() => clearNotice("lesson"), LESSON_NOTICE_MS);
    } else if (facts.kind === "template") {
      finish("template", ["templateDone", values]);
    } else if (facts.kind === "translation") {
      finish("translation", ["translationDone", values]);
    } else if (facts.kind === "static") {
      const response = await fetchWithin(facts.url, { method: "HEAD" }).catch(() => null);
      const etag = (response && response.headers.get("etag")) || "?";
      finish("static", ["staticDone", { ...values, etag }]);
    }
  },
  problems: showProblems,
  request(facts) {
    progress.lines = [...progress.lines, facts.line].slice(-TERMINAL_LINES);
    document.getElementById("terminal-lines").textContent = progress.lines.join("\n");
    if (facts.path === "/compare") {
      finish("compare", ["compareDone", {}]);
      return;
    }
    const seen = facts.path === "/ping" ? "ping" : "notFound";
    progress.requests[seen] = { path: facts.path, status: facts.status };
    const lines = [];
    if (progress.requests.ping) lines.push(["pingSeen", progress.requests.ping]);
    if (progress.requests.notFound) lines.push(["notFoundSeen", progress.requests.notFound]);
    if (progress.requests.ping && progress.requests.notFound) finish("ping", ...lines);
    else mark("ping", "todo", lines);
    save();
  },
};

function showServer(facts) {
  const lines = [["running", { pid: facts.pid, time: facts.started_at, since: facts.answering_since }]];
  finish("server", ...lines);
  document.getElementById("server-command").textContent = facts.command || "?";
  const file = facts.app_file;
  let reload = "reloadUnknown";
  if (facts.through_stack) reload = "throughStack";
  else if (facts.reload === "on") reload = facts.restarts_on_code_save ? "reloadOn" : "reloadNotWatching";
  else if (facts.reload === "off") reload = "reloadOff";
  stepElement("server").querySelector(".reload").textContent = say(reload, { file });
  if (facts.through_stack) finish("stack", ["stackDone", {}]);
  if (facts.reload === "off" && !facts.through_stack) {
    notice("reload", "reloadOff", { file }, command(root.dataset.reloadCommand));
  } else {
    clearNotice("reload");
  }
  clearNotice("stale");
}

// A template or a .po file with a mistake: said in the box, and its step shows it until the file is fixed.
function showProblems(problems) {
  for (const name of [...notices.keys()].filter((name) => name.startsWith("problem "))) notices.delete(name);
  for (const problem of problems) {
    const key = problem.kind === "template" ? "templateProblem" : "translationProblem";
    notices.set(`problem ${problem.path}`, { text: say(key, { ...problem, line: problem.line ?? "?" }) });
  }
  drawNotices();
  for (const kind of ["template", "translation"]) {
    const broken = problems.some((problem) => problem.kind === kind);
    const lines = progress.results[kind];
    mark(kind, broken ? "problem" : lines ? "done" : "todo", lines || []);
  }
}

function start() {
  showProgress();
  document.getElementById("practice-reset").addEventListener("click", () => {
    progress = { results: {}, pid: hello ? hello.pid : null, ping: progress.ping, codeSavedAt: progress.codeSavedAt, requests: {}, lines: [] };
    save();
    showProgress();
    if (hello) showServer(hello);
  });
  if (root.dataset.follow !== "yes") {
    notice("refused", "notFollowing", {});
    return;
  }
  connect();
  setInterval(watchdog, 1000);
}

start();
