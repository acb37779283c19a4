// What /compare and /spectrum share: fetch an address several times and show,
// per fetch, what came back (status, SHA-256 of the body, headers, time).
// Cells that differ from the previous fetch are highlighted.
"use strict";

// Sentences in the page's language, from the page itself: this script is a
// static file and cannot choose a language.
const MESSAGES = JSON.parse(document.querySelector("[data-messages]").dataset.messages);

function say(key, values = {}) {
  return MESSAGES[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

const COLUMNS = [
  { key: "round", label: "#" },
  { key: "status", label: MESSAGES.status },
  { key: "hash", label: "SHA-256" },
  { key: "length", label: "Content-Length" },
  { key: "etag", label: "ETag" },
  { key: "lastModified", label: "Last-Modified" },
  { key: "cacheControl", label: "Cache-Control" },
  { key: "serverTiming", label: "Server-Timing" },
  { key: "servedBy", label: "X-Served-By" },
  { key: "ms", label: MESSAGES.time },
];
// Columns a page may add (/spectrum): what a cache in front did, and how the body was compressed.
const EXTRA_COLUMNS = {
  cacheStatus: { key: "cacheStatus", label: "X-Cache-Status" },
  contentEncoding: { key: "contentEncoding", label: "Content-Encoding" },
};
// X-Served-By on a copy the stack's nginx gave from its cache (tools/nginx_conf/site.conf.j2).
const SERVED_FROM_CACHE = "nginx (cache)";
// Long header values are shortened in the table; the full value is in the cell's tooltip.
const SHORTEN = {
  etag: (value) => (value.length > 10 ? value.slice(0, 8) + "…\"" : value),
  lastModified: (value) => value.replace(/^\w+, (\d+ \w+) \d+ ([\d:]+) GMT$/, "$1 $2"),
  // "db;dur=0.21;desc=…, render;dur=1.30;desc=…" becomes "db 0.21 ms, render 1.30 ms".
  serverTiming: (value) => value.split(",").map((entry) => entry.trim().replace(/^([\w-]+);dur=([\d.]+).*$/, "$1 $2 ms")).join(", "),
  // A copy nginx gave from its micro-cache says so ("nginx (cache)"), in the page's language where the page
  // gives the words (`servedByCache`); a worker names its process: "uvicorn pid 7159" becomes "pid 7159".
  servedBy: (value) => (value === SERVED_FROM_CACHE && MESSAGES.servedByCache ? MESSAGES.servedByCache : value.replace("uvicorn pid ", "pid ")),
};
// The round number and the time always differ; highlighting them would be noise.
const COMPARED = new Set(["status", "hash", "length", "etag", "lastModified", "cacheControl", "serverTiming", "servedBy", "cacheStatus", "contentEncoding"]);
// A 304 carries no body, so it need not repeat these: their absence is no change.
const NOT_SENT_WITH_304 = new Set(["length", "lastModified"]);
const ABSENT = "—";
const isWeak = (etag) => etag.startsWith("W/");
const strongForm = (etag) => etag.replace(/^W\//, "");
const SHORT_HASH = 8;

async function sha256Hex(buffer) {
  if (window.crypto && crypto.subtle) {
    const digest = await crypto.subtle.digest("SHA-256", buffer);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  return sha256Fallback(new Uint8Array(buffer));
}

// crypto.subtle exists only in secure contexts (https, localhost). In class the
// site is often opened by a LAN address over plain http, so compute it by hand.
function sha256Fallback(bytes) {
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const paddedLength = Math.ceil((bytes.length + 9) / 64) * 64;
  const data = new Uint8Array(paddedLength);
  data.set(bytes);
  data[bytes.length] = 0x80;
  const view = new DataView(data.buffer);
  view.setUint32(paddedLength - 8, Math.floor(bytes.length / 0x20000000));
  view.setUint32(paddedLength - 4, (bytes.length * 8) >>> 0);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let offset = 0; offset < paddedLength; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      [h, g, f, e, d, c, b, a] = [g, f, e, (d + t1) | 0, c, b, a, (t1 + t2) | 0];
    }
    [a, b, c, d, e, f, g, h].forEach((value, i) => { H[i] = (H[i] + value) | 0; });
  }
  return Array.from(H, (x) => x.toString(16).padStart(8, "0")).join("");
}

async function fetchOnce(url, etag) {
  // "no-store" keeps the browser's own cache out of the way, so what we show
  // is exactly what the server answered, a 304 included.
  const headers = etag ? { "If-None-Match": etag } : {};
  const started = performance.now();
  const response = await fetch(url, { cache: "no-store", headers });
  const body = await response.arrayBuffer();
  const ms = performance.now() - started;
  const header = (name) => response.headers.get(name) || "—";
  return {
    status: response.status,
    hash: response.status === 304 ? null : (await sha256Hex(body)).slice(0, SHORT_HASH),
    length: header("content-length"),
    etag: header("etag"),
    lastModified: header("last-modified"),
    cacheControl: header("cache-control"),
    serverTiming: header("server-timing"),
    servedBy: header("x-served-by"),
    cacheStatus: header("x-cache-status"),
    contentEncoding: header("content-encoding"),
    ms: ms.toFixed(1) + " ms",
  };
}

class Side {
  constructor(element, { revalidate, columns = COLUMNS }) {
    this.element = element;
    this.url = element.dataset.url;
    this.revalidate = revalidate;
    this.columns = columns;
    this.summary = element.querySelector(".summary");
    this.tbody = element.querySelector("tbody");
    const headRow = document.createElement("tr");
    for (const column of this.columns) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = column.label;
      headRow.append(th);
    }
    element.querySelector("thead").replaceChildren(headRow);
    this.rows = [];
    this.keptHash = null; // the hash of the body the browser holds from the last 200
    this.etag = null;
    this.weakEtagSeen = false;
  }

  reset() {
    this.rows = [];
    this.keptHash = null;
    this.etag = null;
    this.weakEtagSeen = false;
    this.tbody.replaceChildren();
    this.summary.textContent = say("fetching");
  }

  async fetchRound(round) {
    const row = await fetchOnce(this.url, this.revalidate() ? this.etag : null);
    row.round = round;
    if (row.status === 304) {
      row.hash = this.keptHash; // no body came: the browser reuses the copy it has
      row.kept = true;
    } else {
      this.keptHash = row.hash;
    }
    if (row.etag !== "—") this.etag = row.etag;
    this.render(row, this.rows[this.rows.length - 1]);
    this.rows.push(row);
  }

  render(row, previous) {
    const tr = document.createElement("tr");
    for (const { key } of this.columns) {
      const td = document.createElement("td");
      const value = String(row[key]);
      td.textContent = key === "hash" && row.kept ? `${value} ${say("kept")}` : SHORTEN[key] ? SHORTEN[key](value) : value;
      if (td.textContent !== value) td.title = value;
      if (key === "status") td.classList.add(`status-${row.status}`);
      if (row.status === 304 && NOT_SENT_WITH_304.has(key) && value === ABSENT) {
        td.textContent = say("notSentWith304");
        td.classList.add("absent");
      } else if (key === "etag" && isWeak(value)) {
        td.classList.add("weak-etag");
        td.title = say("weakEtag");
        this.weakEtagSeen = true;
      }
      if (previous && COMPARED.has(key) && this.changed(key, previous, row)) td.classList.add("changed");
      tr.append(td);
    }
    this.tbody.append(tr);
  }

  // Whether a cell shows a real change since the fetch before, not just a header a 304 leaves out
  // or the same ETag marked weak (W/) because nginx compressed the body on the fly.
  changed(key, previous, row) {
    if (row.status === 304 && NOT_SENT_WITH_304.has(key) && row[key] === ABSENT) return false;
    if (key === "etag") return strongForm(previous.etag) !== strongForm(row.etag);
    if (NOT_SENT_WITH_304.has(key) && previous.status === 304) {
      const lastFull = [...this.rows].reverse().find((earlier) => earlier.status !== 304);
      return lastFull ? lastFull[key] !== row[key] : false;
    }
    return previous[key] !== row[key];
  }

  describe() {
    const hashes = new Set(this.rows.map((row) => row.hash));
    const notModified = this.rows.filter((row) => row.status === 304).length;
    const parts = [];
    if (hashes.size === 1) parts.push(say("allSame", { count: this.rows.length }));
    else parts.push(say("someDifferent", { kinds: hashes.size, count: this.rows.length }));
    if (notModified) parts.push(say("notModified", { count: notModified }));
    if (this.weakEtagSeen) parts.push(say("weakEtag"));
    this.summary.textContent = parts.join(" · ");
  }
}

