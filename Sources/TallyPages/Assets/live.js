// The stage screen: the poll's question and one bar per option, moved by the results stream
// (GET /v1/polls/{id}/results/stream), the voter count, a countdown to the end date, the QR code
// of the voting page, and the final result once the poll is closed. It reads as an anonymous
// viewer, so the API's visibility rules decide what it shows. A private poll's token comes in the
// URL fragment (#p=…), and goes into the QR code's link.
"use strict";
(() => {
  const id = location.pathname.split("/")[2];
  const pollToken = new URLSearchParams(location.hash.slice(1)).get("p");
  const query = pollToken ? `?token=${encodeURIComponent(pollToken)}` : "";
  const $ = (name) => document.getElementById(name);
  let poll = null;
  let retry = 1000;

  $("qr").src = `/live/${id}/qr.svg${pollToken ? `?p=${encodeURIComponent(pollToken)}` : ""}`;
  $("join-url").textContent = `${location.host}/vote/${id}`;

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  // Builds the option rows once; `render` then only moves them.
  function build(options) {
    const list = $("options");
    list.replaceChildren(...options.map((option) => {
      const row = document.createElement("li");
      row.innerHTML = '<div class="label"><span class="title"></span><span class="value"></span></div><div class="track"><div class="fill"></div></div>';
      row.querySelector(".title").textContent = option.title;
      return row;
    }));
  }

  function render(results) {
    const rows = $("options").children;
    if (rows.length !== results.options.length) build(results.options);
    const top = Math.max(...results.options.map((option) => option.percent ?? 0));
    results.options.forEach((option, index) => {
      const row = rows[index];
      const shown = results.resultsVisible;
      row.querySelector(".fill").style.width = shown ? `${option.percent}%` : "0";
      row.querySelector(".value").textContent = !shown ? "" : results.countsVisible ? `${option.votes} · ${option.percent}%` : `${option.percent}%`;
      row.classList.toggle("winner", results.closed && shown && top > 0 && option.percent === top);
    });
    $("voters").textContent = results.voters ?? "–";
    $("voters-label").textContent = results.voters === 1 ? "voter" : "voters";
    const status = results.closed ? "Final result" : results.resultsVisible ? "Live results" : "Results appear when voting closes";
    $("status").textContent = status;
    if (results.closed && poll && !poll.closed) {
      poll.closed = true;
      tick();
    }
  }

  function tick() {
    if (!poll) return;
    if (poll.closed) {
      $("countdown").textContent = "Closed";
      return;
    }
    if (!poll.closesAt) {
      $("countdown").textContent = "";
      return;
    }
    const left = Math.max(0, Math.ceil((Date.parse(poll.closesAt) - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    $("countdown").textContent = `${minutes}:${String(left % 60).padStart(2, "0")}`;
  }

  async function load() {
    try {
      const response = await fetch(`/v1/polls/${id}${query}`);
      if (response.status === 404) return notice("No poll has this id.");
      if (!response.ok) throw new Error(String(response.status));
      poll = await response.json();
      $("question").textContent = poll.question;
      document.title = `${poll.question} — Tally`;
      build(poll.options);
      render(poll);
      tick();
      connect();
    } catch {
      notice("Cannot reach the poll; trying again…");
      setTimeout(load, 2000);
    }
  }

  // The stream, opened again after any error (with a growing pause, at most 10 s).
  function connect() {
    const stream = new EventSource(`/v1/polls/${id}/results/stream${query}`);
    stream.addEventListener("results", (event) => {
      retry = 1000;
      notice("");
      render(JSON.parse(event.data));
    });
    stream.addEventListener("deleted", () => {
      stream.close();
      notice("This poll was deleted.");
    });
    stream.onerror = () => {
      stream.close();
      notice("Reconnecting…");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  setInterval(tick, 250);
  load();
})();
