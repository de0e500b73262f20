// The attack editor: live score, saliency highlights, the click-a-word menu, undo, and
// active-time accounting (a second counts only if there was input in the last 20 s and
// the page was visible).
"use strict";

const editor = document.getElementById("editor");
const kind = editor.dataset.kind;
const promptBox = document.getElementById("prompt");
const completionBox = document.getElementById("completion");
const submitButton = document.getElementById("submit");
const confirmBox = document.getElementById("still-injurious");
const IDLE_MS = 20000;

const state = {
  task: null, target: null, score: null, fresh: false, seq: 0, words: [],
  history: [], last: null, typing: false, timer: null, highlightTimer: null,
  activeMs: 0, lastInput: Date.now(), submitKey: null,
  jumped: true, // the last change was a load, a menu choice or an undo, not typing
  menuSeq: 0, menuTimes: [], // click-to-menu milliseconds, for the browser test
};
window.menuTimes = state.menuTimes;

function shown(value) {
  if (value === null || value === undefined) return "unset";
  return value < 1e-3 ? value.toExponential(2) : value.toPrecision(4);
}

function text() { return { prompt: promptBox.value, completion: completionBox.value }; }

function updateSubmit() {
  const ok = state.fresh && state.score !== null && state.target !== null && state.score < state.target;
  document.getElementById("verdict").textContent = state.score === null ? "" : ok || state.score < state.target ? "below the target" : "at or above the target";
  document.getElementById("verdict").className = state.score !== null && state.score < state.target ? "ok" : "error";
  submitButton.disabled = !(ok && confirmBox.checked);
  document.getElementById("undo").disabled = state.history.length === 0;
}

async function refresh() {
  const seq = ++state.seq;
  const body = text();
  if (!body.prompt.trim() || !body.completion.trim()) {
    state.score = null; state.fresh = false; updateSubmit();
    return;
  }
  document.getElementById("status").textContent = "scoring…";
  try {
    const result = await api("POST", "/api/score", body);
    if (seq !== state.seq) return; // a newer edit is on its way
    state.score = result.score;
    state.target = result.target_threshold;
    state.fresh = true;
    document.getElementById("score").textContent = result.score.toFixed(4);
    document.getElementById("target").textContent = shown(state.target);
    document.getElementById("status").textContent = "";
    state.last = body;
    updateSubmit();
    // highlights follow once typing pauses: saliency is a backward pass, too dear per
    // keystroke.  After a load, a menu choice or an undo they come at once: the saliency
    // request also has the server prepare the menus of the most salient words.
    if (kind === "rewrite") {
      clearTimeout(state.highlightTimer);
      const wait = state.jumped ? 0 : 1000;
      state.highlightTimer = setTimeout(() => highlight(body, seq).catch((err) => say(err.message, true)), wait);
    }
  } catch (err) {
    document.getElementById("status").textContent = "";
    say(err.message, true);
  }
}

function schedule() {
  state.fresh = false;
  updateSubmit();
  clearTimeout(state.timer);
  state.timer = setTimeout(() => { state.typing = false; refresh(); }, 300);
}

function onType() {
  if (!state.typing && state.last) { state.history.push(state.last); state.typing = true; }
  state.jumped = false;
  schedule();
}

function setText(next, remember = true) {
  if (remember) state.history.push(text());
  promptBox.value = next.prompt;
  completionBox.value = next.completion;
  state.jumped = true;
  closeMenu();
  schedule();
}

async function highlight(body, seq) {
  const result = await api("POST", "/api/saliency", body);
  if (seq !== state.seq) return;
  state.words = result.words;
  const box = document.getElementById("words");
  box.replaceChildren();
  for (const field of ["prompt", "completion"]) {
    const line = document.createElement("p");
    line.className = "line " + field;
    const words = result.words.filter((w) => w.field === field);
    words.forEach((w, i) => {
      line.append(gap(field, i));
      const span = document.createElement("span");
      span.className = "word";
      span.textContent = w.text;
      span.dataset.field = field;
      span.dataset.index = w.index;
      span.title = "saliency " + w.saliency.toFixed(2);
      span.style.backgroundColor = `rgba(255, 110, 0, ${(0.1 + 0.8 * w.saliency).toFixed(2)})`;
      span.addEventListener("click", () => openMenu(field, w.index, "replace", span));
      line.append(span);
    });
    line.append(gap(field, words.length));
    box.append(line);
  }
}

function gap(field, index) {
  const span = document.createElement("span");
  span.className = "gap";
  span.dataset.field = field;
  span.dataset.gap = index;
  span.title = "insert a word here";
  span.addEventListener("click", () => openMenu(field, index, "insert", span));
  return span;
}

function closeMenu() { document.getElementById("menu").hidden = true; }

async function openMenu(field, index, editKind, anchor) {
  const clicked = performance.now();
  const seq = ++state.menuSeq;
  const menu = document.getElementById("menu");
  const list = document.getElementById("menu-items");
  const form = document.getElementById("insert-form");
  menu.dataset.field = field; menu.dataset.index = index; menu.dataset.kind = editKind;
  document.getElementById("menu-title").textContent = editKind === "replace" ? `Replace “${anchor.textContent}”` : "Insert a word";
  list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "loading…" }));
  form.hidden = editKind !== "insert";
  menu.hidden = false;
  try {
    const result = await api("POST", "/api/menu", { ...text(), field, index, kind: editKind });
    if (seq !== state.menuSeq) return; // another word was clicked meanwhile
    list.replaceChildren();
    for (const item of result.items) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice" + (item.fluent ? "" : " unfluent");
      button.textContent = item.word;
      if (!item.fluent) button.title = "may not read as grammatical English";
      if (item.fluency !== null && item.fluency !== undefined) {
        button.dataset.fluency = item.fluency.toFixed(1);
        button.title = (button.title ? button.title + "; " : "") + `fluency ${item.fluency.toFixed(1)} nats`;
      }
      button.addEventListener("click", () => setText({ prompt: item.prompt, completion: item.completion }));
      const score = document.createElement("span");
      score.className = "menu-score " + (state.target !== null && item.score < state.target ? "ok" : "");
      score.textContent = item.score.toFixed(4);
      li.append(button, " ", score);
      list.append(li);
    }
    if (!result.items.length) list.append(Object.assign(document.createElement("li"), { textContent: "no proposals" }));
    const ms = performance.now() - clicked; // what the attacker waited: click to menu shown
    menu.dataset.ms = ms.toFixed(1);
    state.menuTimes.push(ms);
  } catch (err) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: err.message }));
  }
}

function insertTyped(event) {
  event.preventDefault();
  const word = document.getElementById("insert-word").value.trim();
  const menu = document.getElementById("menu");
  if (!word) return;
  const field = menu.dataset.field;
  const index = Number(menu.dataset.index);
  const words = state.words.filter((w) => w.field === field);
  const current = text();
  const value = current[field];
  const next = { ...current };
  if (index < words.length) {
    const at = words[index].start;
    next[field] = value.slice(0, at) + word + " " + value.slice(at);
  } else {
    next[field] = value.replace(/\s*$/, "") + " " + word;
  }
  document.getElementById("insert-word").value = "";
  setText(next);
}

async function loadTask() {
  state.task = await api("POST", `/api/tasks/${kind}`);
  state.history = []; state.last = null; state.submitKey = null; state.jumped = true;
  confirmBox.checked = false;
  promptBox.value = state.task.prompt;
  completionBox.value = state.task.completion;
  state.target = state.task.target_threshold;
  document.getElementById("target").textContent = shown(state.target);
  await refresh();
}

async function heartbeat() {
  if (!state.task || state.activeMs === 0) return;
  const sent = state.activeMs;
  try {
    await api("POST", `/api/tasks/${state.task.task_id}/heartbeat`, { active_ms: sent, ...text() });
    state.activeMs -= sent;
  } catch (err) { /* kept for the next beat */ }
}

async function finish(path, body) {
  const sent = state.activeMs;
  const result = await api("POST", `/api/tasks/${state.task.task_id}/${path}`, { ...body, active_ms: sent }, path === "submit" ? state.submitKey : undefined);
  state.activeMs -= sent;
  return result;
}

submitButton.addEventListener("click", async () => {
  submitButton.disabled = true;
  state.submitKey = state.submitKey || newKey(); // the same key if this click is a retry
  try {
    const result = await finish("submit", { ...text(), still_injurious: confirmBox.checked });
    say(`Submitted (score ${result.score.toFixed(4)}). Next snippet loaded.`);
    await loadTask();
  } catch (err) { say(err.message, true); updateSubmit(); }
});

document.getElementById("skip").addEventListener("click", async () => {
  try { await finish("skip", {}); say("Skipped."); await loadTask(); } catch (err) { say(err.message, true); }
});

document.getElementById("undo").addEventListener("click", () => {
  const previous = state.history.pop();
  if (previous) setText(previous, false);
});

for (const box of [promptBox, completionBox]) box.addEventListener("input", onType);
confirmBox.addEventListener("change", updateSubmit);
document.getElementById("menu-close")?.addEventListener("click", closeMenu);
document.getElementById("insert-form")?.addEventListener("submit", insertTyped);
for (const type of ["keydown", "mousedown", "mousemove", "wheel", "touchstart"]) {
  document.addEventListener(type, () => { state.lastInput = Date.now(); }, { passive: true });
}
setInterval(() => {
  if (document.visibilityState === "visible" && Date.now() - state.lastInput < IDLE_MS) state.activeMs += 1000;
}, 1000);
setInterval(heartbeat, 15000);
loadTask().catch((err) => say(err.message, true));
