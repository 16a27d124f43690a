// The voting page: the options as large buttons, at most `maxVotes` chosen, submit, and a clear
// answer. The voter token comes in the URL fragment (#t=…), which browsers never send to a server;
// without one, a trusted proxy's X-Voter-Id names the voter. A private poll's token comes there too
// (&p=…). Everything goes through /v1.
"use strict";
(() => {
  const id = location.pathname.split("/")[2];
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("t");
  const query = fragment.get("p") ? `?token=${encodeURIComponent(fragment.get("p"))}` : "";
  const $ = (name) => document.getElementById(name);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  let poll = null;
  const chosen = new Set();

  // The API's errors in the voter's words (its own message for anything else).
  const words = {
    already_voted: "You have already voted in this poll.",
    poll_closed: "This poll is closed.",
    poll_expired: "Voting has ended.",
    poll_not_open: "This poll is not open yet.",
    poll_not_found: "There is no such poll.",
    credentials_required: "This voting link has no voter token. Open the link you were given.",
    invalid_token: "This voting link is not valid. Open the link you were given.",
    token_expired: "This voting link has expired. Ask for a new one.",
    too_many_options: "You chose more options than this poll allows.",
    poll_token_required: "This poll is private. Open the link you were given.",
    poll_token_invalid: "This poll is private. Open the link you were given.",
    store_unavailable: "Your vote could not be saved right now. Please try again.",
  };

  function say(text, kind) {
    $("message").textContent = text;
    $("message").className = `message ${kind || ""}`;
    $("message").hidden = !text;
  }

  async function problem(response) {
    try {
      const body = await response.json();
      return words[body.code] || body.error || `Error ${response.status}`;
    } catch {
      return `Error ${response.status}`;
    }
  }

  const limit = () => (poll.maxVotes === 0 ? poll.options.length : poll.maxVotes);
  const voted = () => poll.ownChoices.length > 0;
  const locked = () => poll.closed || poll.state !== "open" || (voted() && !poll.revote);

  function showChoices() {
    const buttons = poll.options.map((option, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.textContent = option.title;
      button.addEventListener("click", () => toggle(index));
      return button;
    });
    $("options").replaceChildren(...buttons);
    update();
  }

  function toggle(index) {
    if (chosen.has(index)) chosen.delete(index);
    else if (limit() === 1) {
      chosen.clear();
      chosen.add(index);
    } else if (chosen.size < limit()) chosen.add(index);
    update();
  }

  // Buttons as chosen; beyond the limit the others are disabled.
  function update() {
    [...$("options").children].forEach((button, index) => {
      button.setAttribute("aria-pressed", String(chosen.has(index)));
      button.disabled = locked() || (!chosen.has(index) && limit() > 1 && chosen.size >= limit());
    });
    $("submit").disabled = locked() || chosen.size === 0;
    const many = limit() === 1 ? "Choose one." : `Choose up to ${limit()}.`;
    $("hint").textContent = poll.closed ? "This poll is closed." : poll.state !== "open" ? "This poll is not open yet." : many;
  }

  function showResults(results) {
    $("results").hidden = !results.resultsVisible;
    if (!results.resultsVisible) return;
    $("result-list").replaceChildren(...results.options.map((option) => {
      const row = document.createElement("li");
      row.innerHTML = '<div class="label"><span class="title"></span><span class="value"></span></div><div class="track"><div class="fill"></div></div>';
      row.querySelector(".title").textContent = option.title;
      row.querySelector(".value").textContent = results.countsVisible ? `${option.votes} · ${option.percent}%` : `${option.percent}%`;
      row.querySelector(".fill").style.width = `${option.percent}%`;
      return row;
    }));
    $("result-voters").textContent = results.voters == null ? "" : `${results.voters} ${results.voters === 1 ? "voter" : "voters"}`;
  }

  async function load() {
    let response;
    try {
      response = await fetch(`/v1/polls/${id}${query}`, { headers });
    } catch {
      return say("Cannot reach the server. Check your connection and reload.", "error");
    }
    if (!response.ok) return say(await problem(response), "error");
    poll = await response.json();
    $("question").textContent = poll.question;
    document.title = `${poll.question} — Tally`;
    chosen.clear();
    poll.ownChoices.forEach((index) => chosen.add(index));
    $("ballot").hidden = false;
    showChoices();
    if (voted()) {
      const names = poll.ownChoices.map((index) => poll.options[index].title).join(", ");
      say(`Your vote: ${names}.`, "ok");
    }
    showResults(poll);
  }

  $("ballot").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("submit").disabled = true;
    say("Sending…");
    let response;
    try {
      response = await fetch(`/v1/polls/${id}/votes${query}`, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify({ choices: [...chosen].sort((a, b) => a - b) }),
      });
    } catch {
      update();
      return say("Your vote could not be sent. Check your connection and try again.", "error");
    }
    if (!response.ok) {
      const text = await problem(response);
      await load();
      return say(text, "error");
    }
    await load();
    say(`Thank you, your vote is in: ${[...chosen].sort((a, b) => a - b).map((index) => poll.options[index].title).join(", ")}.`, "ok");
  });

  load();
})();
