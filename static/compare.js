// The compare page: fetch a static file and a dynamic page several times and
// show, per fetch, what came back (fetches.js), so "static stays, dynamic
// changes" is visible at a glance.
"use strict";

async function showDatabaseStatus() {
  const side = document.getElementById("database-side");
  const summary = side.querySelector(".summary");
  try {
    const response = await fetch(side.dataset.url, { cache: "no-store" });
    await response.arrayBuffer(); // read to the end: an unread no-store body keeps the request open
    const values = { url: side.dataset.url, status: response.status };
    summary.textContent = say(response.ok ? "databaseOk" : "databaseDown", values);
  } catch (error) {
    summary.textContent = say("databaseUnknown", { error: error.message });
  }
}

function start() {
  const form = document.getElementById("compare-controls");
  const button = document.getElementById("reload-both");
  const rounds = document.getElementById("rounds");
  const revalidate = document.getElementById("revalidate");
  const staticSide = new Side(document.getElementById("static-side"), { revalidate: () => revalidate.checked });
  const dynamicSide = new Side(document.getElementById("dynamic-side"), { revalidate: () => false });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    staticSide.reset();
    dynamicSide.reset();
    try {
      for (let round = 1; round <= Number(rounds.value); round++) {
        await staticSide.fetchRound(round);
        await dynamicSide.fetchRound(round);
      }
      staticSide.describe();
      dynamicSide.describe();
    } catch (error) {
      staticSide.summary.textContent = dynamicSide.summary.textContent = say("failed", { error: error.message });
    } finally {
      button.disabled = false;
    }
  });
  form.requestSubmit();
  showDatabaseStatus();
}

document.addEventListener("DOMContentLoaded", start);
