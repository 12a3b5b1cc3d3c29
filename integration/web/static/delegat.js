// The pages' one script (a strict CSP allows no inline script): one-time codes from the
// address's fragment, confirmations before destructive actions, and live states.
"use strict";

// Links with a one-time code (password setup, invitations) carry it after "#", which browsers
// never send to a server. Put it into the form, take it out of the address bar, hide the field.
function takeFragmentCode() {
  const code = decodeURIComponent(window.location.hash.slice(1));
  const field = document.getElementById("token");
  const box = document.getElementById("code-field");
  if (!code || !field || !box) {
    return;
  }
  field.value = code;
  history.replaceState(null, "", window.location.pathname);
  box.hidden = true;
}

// A button with data-confirm asks before its form is sent.
function confirmDestructive() {
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const question = button && button.dataset ? button.dataset.confirm : null;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
}

// A block with data-live="URL" follows the rows inside it marked data-pending: the URL answers
// {rows: {id: {label, tone, explanation, reason, ksef_number, upo, settled}}, progress, sync}.
// It polls every two seconds (longer while nothing changes) until every row settled.
function followLive(block) {
  const url = block.dataset.live;
  let pause = 2000;
  const pending = () => Array.from(block.querySelectorAll("[data-pending]"));

  function setText(row, name, text) {
    const place = row.querySelector(`[data-field="${name}"]`);
    if (place && text !== undefined && place.textContent !== text) {
      place.textContent = text;
    }
  }

  function apply(row, state) {
    const badge = row.querySelector(".badge");
    if (badge) {
      badge.textContent = state.label;
      badge.title = state.explanation;
      badge.className = `badge tone-${state.tone}`;
    }
    setText(row, "explanation", state.explanation);
    setText(row, "reason", state.reason);
    if (state.ksef_number) {
      const cell = row.querySelector('[data-field="ksef_number"]');
      if (cell && cell.textContent.trim() !== state.ksef_number) {
        cell.replaceChildren(Object.assign(document.createElement("code"), { textContent: state.ksef_number }));
      }
    }
    if (state.upo) {
      const place = row.querySelector('[data-field="upo"]');
      if (place && !place.querySelector("a")) {
        place.replaceChildren(document.createTextNode("· "), Object.assign(document.createElement("a"), { href: state.upo, textContent: "UPO" }));
      }
    }
    if (state.settled) {
      row.removeAttribute("data-pending");
    }
  }

  async function tick() {
    const rows = pending();
    const progress = block.querySelector("[data-progress]");
    const sync = block.querySelector("[data-sync]");
    if (!rows.length && !progress && !sync) {
      return;
    }
    const ids = rows.map((row) => row.id.split("-").pop()).join(",");
    let changed = false;
    try {
      const answer = await fetch(`${url}?ids=${ids}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (answer.ok) {
        const body = await answer.json();
        for (const row of rows) {
          const state = body.rows ? body.rows[row.id] : null;
          if (state) {
            const before = row.querySelector(".badge")?.textContent;
            apply(row, state);
            changed = changed || before !== state.label;
          }
        }
        if (progress && body.progress) {
          changed = changed || progress.textContent !== body.progress.text;
          progress.textContent = body.progress.text;
          if (body.progress.done >= body.progress.total) {
            progress.removeAttribute("data-progress");
          }
        }
        if (sync && body.sync) {
          changed = changed || sync.textContent !== body.sync.text;
          sync.textContent = body.sync.text;
          const error = block.querySelector("[data-sync-error]");
          if (error) {
            error.hidden = !body.sync.error;
            error.querySelector("span").textContent = body.sync.error || "";
          }
        }
        if (body.pull) {
          const pull = block.querySelector("[data-pull]");
          if (pull) {
            pull.textContent = body.pull.error || body.pull.text;
          }
        }
      }
    } catch (err) {
      changed = false; // the network blinked: try again later
    }
    pause = changed ? 2000 : Math.min(pause * 1.5, 15000);
    if (pending().length || block.querySelector("[data-progress]") || (sync && pause < 15000)) {
      window.setTimeout(tick, pause);
    }
  }
  window.setTimeout(tick, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  takeFragmentCode();
  confirmDestructive();
  document.querySelectorAll("[data-live]").forEach(followLive);
});
