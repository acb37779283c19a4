// The clock page: a static document that fetches dynamic data. It fetches its
// own document again (sending the ETag it has, so an unchanged file is a 304)
// and /api/now, and shows the SHA-256 of each: the first stays, the second changes.
"use strict";

const clock = document.getElementById("clock");
const show = (id, text) => { document.getElementById(id).textContent = text; };
const documentHashes = new Set();
const dataHashes = new Set();
let documentEtag = null;
let documentHash = null; // the hash of the body the browser holds from the last 200
let fetches = 0;

async function fetchDocument() {
  const row = await fetchOnce(clock.dataset.documentUrl, documentEtag);
  if (row.status === 200) documentHash = row.hash;
  if (row.etag !== ABSENT) documentEtag = row.etag;
  documentHashes.add(documentHash);
  show("document-status", row.status === 304 ? say("notModified") : say("downloaded", { status: row.status }));
  show("document-hash", documentHash);
  show("document-etag", row.etag);
  show("document-summary", documentHashes.size === 1 ? say("sameDocument", { count: fetches }) : say("changedDocument"));
}

async function fetchData() {
  const response = await fetch(clock.dataset.dataUrl, { cache: "no-store" });
  const body = await response.arrayBuffer();
  const hash = (await sha256Hex(body)).slice(0, SHORT_HASH);
  const now = JSON.parse(new TextDecoder().decode(body));
  dataHashes.add(hash);
  show("data-time", now.time);
  show("data-counter", String(now.counter));
  show("data-pid", String(now.pid));
  show("data-hash", hash);
  show("data-summary", dataHashes.size === fetches ? say("differentData", { count: fetches }) : "");
}

async function fetchBoth() {
  const button = document.getElementById("fetch-again");
  button.disabled = true;
  fetches += 1;
  try {
    await fetchDocument();
    await fetchData();
  } catch (error) {
    show("data-summary", say("failed", { error: error.message }));
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("fetch-again").addEventListener("click", fetchBoth);
  fetchBoth();
});
