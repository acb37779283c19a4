// /spectrum: run each step's demos (fetches.js draws the tables), show how this
// page's own files came on this load (Resource Timing), and fill in the
// Cache-Control each address sends.
"use strict";

const ALL_COLUMNS = Object.fromEntries([...COLUMNS, ...Object.values(EXTRA_COLUMNS)].map((column) => [column.key, column]));
const FINGERPRINTED = /\.[0-9a-f]{10}\.\w+$/;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function sideOf(demo) {
  const columns = demo.dataset.columns.split(",").map((key) => ALL_COLUMNS[key]);
  const revalidate = demo.hasAttribute("data-revalidate");
  return new Side(demo, { revalidate: () => revalidate, columns });
}

// What a cache in front did, and how the body came compressed: said under the table.
function describeExtras(side) {
  const parts = [];
  if (side.columns.some((column) => column.key === "cacheStatus")) {
    const statuses = side.rows.map((row) => row.cacheStatus).filter((status) => status !== ABSENT);
    parts.push(statuses.length ? say("cacheStatuses", { statuses: statuses.join(" → ") }) : say("noCacheStatus"));
  }
  if (side.columns.some((column) => column.key === "contentEncoding")) {
    const encodings = [...new Set(side.rows.map((row) => row.contentEncoding))].filter((value) => value !== ABSENT);
    parts.push(encodings.length ? say("compressed", { encoding: encodings.join(", ") }) : say("notCompressed"));
  }
  if (parts.length) side.summary.textContent += " · " + parts.join(" · ");
}

async function runStep(step) {
  const sides = [...step.querySelectorAll(".demo")].map(sideOf);
  if (!sides.length) return;
  const rounds = Math.max(...sides.map((side) => Number(side.element.dataset.rounds)));
  const interval = Math.max(...sides.map((side) => Number(side.element.dataset.interval || 0)));
  sides.forEach((side) => side.reset());
  try {
    for (let round = 1; round <= rounds; round++) {
      if (round > 1 && interval) await pause(interval);
      for (const side of sides) {
        if (round <= Number(side.element.dataset.rounds)) await side.fetchRound(round);
      }
    }
    for (const side of sides) {
      side.describe();
      describeExtras(side);
    }
  } catch (error) {
    sides.forEach((side) => { side.summary.textContent = say("failed", { error: error.message }); });
  }
}

// Resource Timing says how many bytes came over the network: none from the cache; after a
// revalidation only the 304's headers, with the body (Chromium reports no size for it, or
// "cache" as the delivery) from the copy the browser already had.
function howItCame(entry) {
  if (entry.transferSize === 0) return say("fromCache");
  if (entry.responseStatus === 304 || entry.encodedBodySize === 0 || entry.deliveryType === "cache") return say("revalidated");
  return say("downloaded", { status: entry.responseStatus || 200 });
}

// Each file this page loaded: its policy, and whether the browser asked the server for it this time.
function showResources() {
  const tbody = document.querySelector(".resources tbody");
  const policies = JSON.parse(tbody.dataset.policies);
  const rows = [[say("document"), "no-store", performance.getEntriesByType("navigation")[0]]];
  for (const entry of performance.getEntriesByType("resource")) {
    const url = new URL(entry.name);
    if (url.origin !== location.origin || !["link", "script", "img"].includes(entry.initiatorType)) continue;
    rows.push([url.pathname, FINGERPRINTED.test(url.pathname) ? policies.immutable : policies.static, entry]);
  }
  tbody.replaceChildren(...rows.map(([file, policy, entry]) => {
    const tr = document.createElement("tr");
    for (const text of [file, policy, entry ? howItCame(entry) : ABSENT]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    if (entry && entry.transferSize === 0) tr.classList.add("from-cache");
    return tr;
  }));
  tbody.closest(".demo-resources").querySelector(".summary").textContent = say("reloadHint");
}

async function showPolicies() {
  await Promise.all([...document.querySelectorAll("td.policy")].map(async (cell) => {
    try {
      // The fingerprinted file is read from the browser's cache, as the page's <img> did: asking
      // the server for it would be the very request that fingerprinting saves.
      const fromCache = cell.hasAttribute("data-from-cache");
      const options = fromCache ? { cache: "force-cache" } : { method: "HEAD", cache: "no-store" };
      const response = await fetch(cell.dataset.url, options);
      await response.arrayBuffer(); // read to the end: an unread no-store body keeps the request open
      cell.textContent = response.headers.get("cache-control") || ABSENT;
    } catch (error) {
      cell.textContent = say("failed", { error: error.message });
    }
  }));
}

async function start() {
  for (const step of document.querySelectorAll(".spectrum .step")) await runStep(step);
  await showPolicies();
}

document.addEventListener("DOMContentLoaded", start);
// Resource Timing has every file once the page has loaded.
window.addEventListener("load", showResources);
