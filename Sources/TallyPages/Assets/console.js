// The organizer console: an organizer token (kept in sessionStorage only), the polls, a form for a
// new one with every native option, open/close/reopen, the selected poll's live results, and its
// stage and voting links. Everything goes through the documented native API (/v1).
"use strict";
(() => {
  const $ = (name) => document.getElementById(name);
  const key = "tally.organizer";
  let selected = null;
  let timer = null;

  function say(text, kind) {
    $("message").textContent = text;
    $("message").className = `message ${kind || ""}`;
    $("message").hidden = !text;
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${sessionStorage.getItem(key)}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) throw new Error(data?.error || `error ${response.status}`);
    return data;
  }

  function signedIn(yes) {
    $("sign-in").hidden = yes;
    $("signed-in").hidden = !yes;
    if (yes) list();
    else {
      clearInterval(timer);
      selected = null;
    }
  }

  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(key, $("token").value.trim());
    $("token").value = "";
    signedIn(true);
  });
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(key);
    signedIn(false);
  });
  $("refresh").addEventListener("click", () => list());

  const actions = { draft: ["open"], open: ["close"], closed: ["reopen"] };

  async function list() {
    try {
      const data = await api("GET", "/v1/polls?limit=100");
      $("polls").replaceChildren(...data.polls.map(row));
    } catch (error) {
      say(`Cannot list polls: ${error.message}`, "error");
    }
  }

  function row(poll) {
    const tr = document.createElement("tr");
    tr.dataset.poll = poll.id;
    tr.innerHTML = '<td><button type="button" class="link"></button></td><td class="state"></td><td class="count"></td><td class="actions"></td>';
    const title = tr.querySelector(".link");
    title.textContent = poll.question;
    title.addEventListener("click", () => select(poll.id, poll.token));
    tr.querySelector(".state").textContent = poll.state;
    tr.querySelector(".count").textContent = poll.voters ?? "";
    for (const action of actions[poll.state] || []) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = action[0].toUpperCase() + action.slice(1);
      button.dataset.action = action;
      button.addEventListener("click", () => act(poll.id, action));
      tr.querySelector(".actions").append(button);
    }
    return tr;
  }

  async function act(id, action) {
    try {
      await api("POST", `/v1/polls/${id}/${action}`);
      say(`Poll ${id}: ${action} done.`, "ok");
      await list();
      if (selected === id) await show();
    } catch (error) {
      say(`Poll ${id}: ${error.message}`, "error");
    }
  }

  // The selected poll, read again every second while it is shown.
  // The links of a private poll carry its token in the fragment (#p=…), which the pages read.
  function select(id, token) {
    selected = id;
    const secret = token ? `#p=${token}` : "";
    $("stage-link").value = `${location.origin}/live/${id}${secret}`;
    $("vote-link").value = `${location.origin}/vote/${id}${secret}`;
    clearInterval(timer);
    timer = setInterval(show, 1000);
    show();
  }

  async function show() {
    if (!selected) return;
    try {
      const poll = await api("GET", `/v1/polls/${selected}`);
      $("selected").hidden = false;
      $("selected-question").textContent = poll.question;
      $("selected-state").textContent = poll.state;
      $("selected-voters").textContent = `${poll.voters ?? 0} ${poll.voters === 1 ? "voter" : "voters"}`;
      const count = document.querySelector(`tr[data-poll="${poll.id}"] .count`);
      if (count) count.textContent = poll.voters ?? "";
      $("selected-results").replaceChildren(...poll.options.map((option) => {
        const item = document.createElement("li");
        item.innerHTML = '<div class="label"><span class="title"></span><span class="value"></span></div><div class="track"><div class="fill"></div></div>';
        item.querySelector(".title").textContent = option.title;
        item.querySelector(".value").textContent = `${option.votes ?? "–"} · ${option.percent ?? 0}%`;
        item.querySelector(".fill").style.width = `${option.percent ?? 0}%`;
        return item;
      }));
    } catch (error) {
      say(`Poll ${selected}: ${error.message}`, "error");
    }
  }

  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const field = $(button.dataset.copy);
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
        say("Link copied.", "ok");
      } catch {
        say("Select the link and copy it.", "");
      }
    });
  });

  $("create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target.elements;
    const lines = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);
    const poll = {
      question: form.question.value.trim(),
      description: form.description.value,
      options: lines(form.options.value),
      maxVotes: Number(form.maxVotes.value),
      closesOnEnd: form.closesOnEnd.checked,
      revote: form.revote.checked,
      visibility: form.visibility.value,
      hideCounts: form.hideCounts.checked,
      anonymous: form.anonymous.checked,
      private: form.private.checked,
      draft: form.draft.checked,
      expectedVoters: Number(form.expectedVoters.value || 0),
      labels: Object.fromEntries(lines(form.labels.value).map((line) => [line.split("=")[0].trim(), line.split("=").slice(1).join("=").trim()])),
    };
    if (form.closesAt.value) poll.closesAt = new Date(form.closesAt.value).toISOString();
    if (form.shards.value) poll.shards = Number(form.shards.value);
    try {
      const created = await api("POST", "/v1/polls", poll);
      say(`Poll ${created.id} created.`, "ok");
      event.target.reset();
      await list();
      select(created.id, created.token);
    } catch (error) {
      say(`Not created: ${error.message}`, "error");
    }
  });

  signedIn(Boolean(sessionStorage.getItem(key)));
})();
