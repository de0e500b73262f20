// The labeling queue and the rating task: show one item, send the answer, show the next.
"use strict";

async function nextLabel() {
  const item = await api("GET", "/api/labels/next");
  document.getElementById("label-task").hidden = !item;
  document.getElementById("label-empty").hidden = !!item;
  if (!item) return;
  const task = document.getElementById("label-task");
  task.dataset.snippet = item.snippet_id;
  task.dataset.key = newKey(); // one key per item: a retried click cannot label twice
  document.getElementById("label-prompt").textContent = item.prompt;
  document.getElementById("label-completion").textContent = item.completion;
}

async function nextPair() {
  const pair = await api("GET", "/api/ratings/next");
  document.getElementById("rate-task").hidden = !pair;
  document.getElementById("rate-empty").hidden = !!pair;
  if (!pair) return;
  const task = document.getElementById("rate-task");
  task.dataset.pair = pair.pair_id;
  task.dataset.key = newKey();
  document.getElementById("rate-prompt").textContent = pair.prompt;
  document.getElementById("rate-a").textContent = pair.a;
  document.getElementById("rate-b").textContent = pair.b;
}

if (document.getElementById("label-task")) {
  for (const button of document.querySelectorAll("[data-label]")) {
    button.addEventListener("click", async () => {
      const task = document.getElementById("label-task");
      try {
        await api("POST", "/api/labels", { snippet_id: Number(task.dataset.snippet), label: button.dataset.label }, task.dataset.key);
        say("Label saved.");
        await nextLabel();
      } catch (err) { say(err.message, true); }
    });
  }
  nextLabel().catch((err) => say(err.message, true));
}

if (document.getElementById("rate-task")) {
  for (const button of document.querySelectorAll("[data-choice]")) {
    button.addEventListener("click", async () => {
      const task = document.getElementById("rate-task");
      try {
        await api("POST", "/api/ratings", { pair_id: Number(task.dataset.pair), choice: button.dataset.choice }, task.dataset.key);
        say("Rating saved.");
        await nextPair();
      } catch (err) { say(err.message, true); }
    });
  }
  nextPair().catch((err) => say(err.message, true));
}
