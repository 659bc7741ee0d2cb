// One instance, live: its graph coloured by step status, steps, history, the lifecycle
// buttons and a form that raises an event. Changes arrive through the instance's event
// stream (reconnected when it breaks).

import { ApiError, dapr, getJSON, getText, post, stream, wfkit } from "./api.js";
import { badge, formatTime, h, note, pretty, replace, route } from "./dom.js";
import { eventItem, StepTable } from "./steps.js";
import { safeSvg } from "./svg.js";

/** The most history events the page shows (the rest: `wfkit history ID`). */
const HISTORY_MAX = 5000;
const TERMINAL = new Set(["COMPLETED", "FAILED", "TERMINATED", "CANCELED"]);
const LEGEND = ["pending", "running", "waiting", "paused", "completed", "failed", "skipped", "canceled"];

/** Which buttons make sense in a runtime status. */
export const ACTIONS = {
  pause: (s) => s === "RUNNING" || s === "PENDING",
  resume: (s) => s === "SUSPENDED",
  terminate: (s) => !TERMINAL.has(s),
  retry: (s) => s === "FAILED",
  purge: (s) => TERMINAL.has(s),
};
const CONFIRM = {
  terminate: "Terminate this instance? Running steps are stopped; it cannot be resumed.",
  purge: "Purge this instance? Its state and history are deleted for good.",
};

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });

function jsonBlock(title, value) {
  if (value === null || value === undefined) return null;
  return h("details", { class: "json" }, h("summary", { text: title }), h("pre", { text: pretty(value) }));
}

/** The instance page. */
export async function instancePage(main, id, pageSignal) {
  const stop = new AbortController(); // the page's, or ours once the instance is purged
  pageSignal.addEventListener("abort", () => stop.abort(), { once: true });
  const signal = stop.signal;
  let data = null;
  let graphKey = null;
  let graphBusy = null;
  let lastSeq = null;
  let historyBusy = null;
  let following = false;
  let historyFull = false;
  document.title = `${id} · wfkit`;

  const title = h("h1", { id: "instance-id", class: "id", text: id });
  const facts = h("div", { class: "facts", id: "facts" });
  const messages = h("div", { class: "messages", id: "action-message" });
  const confirmBar = h("div", { class: "confirm", hidden: true });
  const buttons = Object.fromEntries(
    Object.keys(ACTIONS).map((verb) => [
      verb,
      h("button", { type: "button", id: `action-${verb}`, class: verb === "terminate" || verb === "purge" ? "danger" : "", disabled: true, onclick: () => ask(verb), text: verb[0].toUpperCase() + verb.slice(1) }),
    ]),
  );
  const graph = h("div", { class: "graph", id: "graph" }, h("p", { class: "muted", text: "Drawing…" }));
  const legend = h("div", { class: "legend" }, LEGEND.map((s) => h("span", {}, h("i", { class: `status-${s}` }), s)));
  const steps = new StepTable();
  const timeline = h("ol", { class: "timeline", id: "history" });
  const side = h("div", { class: "side" });
  const eventName = h("input", { id: "event-name", list: "awaited-events", required: true, autocomplete: "off", placeholder: "event name" });
  const awaited = h("datalist", { id: "awaited-events" });
  const awaitedHint = h("p", { class: "muted", id: "awaited-hint" });
  const eventMessage = h("div", { class: "messages", id: "event-message" });
  const eventData = h("textarea", { id: "event-data", rows: "3", spellcheck: "false", placeholder: '{"by": "ana"}  (JSON; empty: no data)', oninput: () => replace(eventMessage) });
  const eventForm = h(
    "form",
    { class: "raise-event card", id: "raise-event", onsubmit: (event) => { event.preventDefault(); raise(); } },
    h("h2", { text: "Raise an event" }),
    awaitedHint,
    h("label", {}, "Event ", eventName, awaited),
    h("label", {}, "Data ", eventData),
    h("button", { type: "submit", class: "primary", id: "event-send", text: "Send event" }),
    eventMessage,
  );

  replace(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/", text: "Instances" }), " / "),
    h("div", { class: "page-head" }, title),
    facts,
    h("div", { class: "actions" }, Object.values(buttons), confirmBar),
    messages,
    h(
      "div",
      { class: "columns" },
      h("section", { class: "card graph-card" }, h("h2", { text: "Graph" }), graph, legend),
      side,
    ),
    h("section", { class: "card" }, h("h2", { text: "Steps" }), h("div", { class: "table-wrap" }, steps.element)),
    h("section", { class: "card" }, h("h2", { text: "History" }), timeline),
  );

  function showFacts() {
    const status = data.runtimeStatus;
    const name = data.workflowName ?? "";
    replace(
      facts,
      badge(status),
      h("span", {}, "workflow ", h("a", { href: route("definitions", name), text: name })),
      h("span", { text: `started ${formatTime(data.startedAt)}` }),
      h("span", { text: `updated ${formatTime(data.lastUpdatedAt)}` }),
      data.customStatus ? h("span", { class: "custom", text: data.customStatus }) : null,
      data.parentID ? h("span", {}, "parent ", h("a", { href: route("instances", data.parentID), text: data.parentID })) : null,
    );
    for (const [verb, allowed] of Object.entries(ACTIONS)) buttons[verb].disabled = !allowed(status);
  }

  function showSide() {
    const failure = data.failure;
    const parts = [];
    if (failure && typeof failure === "object") {
      parts.push(
        h(
          "section",
          { class: "card failure", id: "failure" },
          h("h2", { text: "Failure" }),
          h("p", { class: "error-text", text: [failure.type, failure.message].filter(Boolean).join(": ") }),
          failure.stack_trace ? h("details", {}, h("summary", { text: "stack trace" }), h("pre", { class: "traceback", text: failure.stack_trace })) : null,
        ),
      );
    }
    if (!TERMINAL.has(data.runtimeStatus)) parts.push(eventForm);
    const io = [jsonBlock("input", data.input), jsonBlock("output", data.output)].filter(Boolean);
    if (io.length) parts.push(h("section", { class: "card io" }, h("h2", { text: "Data" }), io));
    // keep the form element (and what was typed in it) when redrawing
    side.replaceChildren(...parts);
    const waits = Array.isArray(data.awaiting) ? data.awaiting : [];
    const events = [...new Set(waits.map((w) => String(w.event)))];
    replace(awaited, events.map((e) => h("option", { value: e })));
    awaitedHint.textContent = waits.length
      ? waits.map((w) => `${w.step} waits for “${w.event}”`).join("; ")
      : "No step waits for an event now; an event sent is kept for the step that waits for it later.";
    if (events.length && (!eventName.value || eventName.dataset.suggested === eventName.value)) {
      eventName.value = events[0];
      eventName.dataset.suggested = events[0];
    }
  }

  async function showGraph() {
    const key = data.graphVersion ?? JSON.stringify([data.runtimeStatus, Object.entries(data.steps ?? {}).map(([k, s]) => [k, s.status])]);
    if (key === graphKey) return;
    if (graphBusy) return graphBusy.then(showGraph);
    graphBusy = (async () => {
      try {
        const text = await getText(wfkit("instances", id, "graph.svg"), { signal });
        const svg = safeSvg(text);
        replace(graph, svg ?? h("p", { class: "muted", text: "The graph could not be read." }));
        graphKey = key;
        graph.dataset.version = String(key);
      } catch (error) {
        if (error.name !== "AbortError") replace(graph, note("error", `graph: ${error.message}`));
      }
    })().finally(() => { graphBusy = null; });
    return graphBusy;
  }

  async function loadHistory() {
    if (historyFull) return;
    if (historyBusy) { historyBusy.again = true; return; }
    historyBusy = { again: false };
    try {
      do {
        historyBusy.again = false;
        for (;;) {
          const after = lastSeq === null ? "" : `after=${lastSeq}&`;
          const page = await getJSON(`${wfkit("instances", id, "history")}?${after}limit=1000`, { signal });
          const events = Array.isArray(page.events) ? page.events : [];
          const room = HISTORY_MAX - timeline.childElementCount;
          timeline.append(...events.slice(0, Math.max(0, room)).map(eventItem));
          if (events.length) lastSeq = events[events.length - 1].seq;
          const more = page.next !== null && page.next !== undefined;
          if (events.length > room || (events.length === room && more)) {
            timeline.append(h("li", { class: "muted", id: "history-cut", text: `The first ${HISTORY_MAX} events are shown; the whole history: wfkit history ${id}` }));
            historyFull = true;
            return;
          }
          if (!more || !events.length) break;
        }
      } while (historyBusy.again && !signal.aborted);
    } catch (error) {
      if (error.name !== "AbortError") timeline.append(h("li", { class: "note error", text: `history: ${error.message}` }));
    } finally {
      historyBusy = null;
    }
  }

  function update(next) {
    data = next;
    showFacts();
    showSide();
    steps.update(data.steps);
    showGraph();
    loadHistory();
  }

  function gone() {
    replace(main, h("h1", { text: "No such instance" }), h("p", { text: `Instance ${id} is not in the store (it may have been purged).` }), h("p", {}, h("a", { href: "#/", text: "Back to the instances" })));
  }

  // quiet: a failure is not shown (the top bar says the page is reconnecting, and an
  // action's own message stays)
  async function refresh({ quiet = false } = {}) {
    try {
      update(await getJSON(wfkit("instances", id), { signal }));
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) gone();
      else if (error.name !== "AbortError" && !quiet) replace(messages, note("error", error.message));
      return false;
    }
  }

  async function follow() {
    if (following) return;
    following = true;
    const connection = document.getElementById("connection");
    let delay = 500;
    try {
      while (!signal.aborted) {
        let ended = false;
        try {
          connection.textContent = "live";
          connection.className = "connection live";
          await stream(wfkit("instances", id, "stream"), (name, text) => {
            if (name === "instance") update(JSON.parse(text));
            else if (name === "end") {
              ended = true;
              if (JSON.parse(text || "{}").purged) gone();
            }
            delay = 500;
          }, signal);
        } catch (error) {
          if (signal.aborted) return;
          if (error instanceof ApiError && error.status === 404) {
            if (!(await refresh({ quiet: true }))) return;
          }
        }
        if (ended || (data && TERMINAL.has(data.runtimeStatus))) return;
        connection.textContent = "reconnecting…";
        connection.className = "connection lost";
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 10000);
        await refresh({ quiet: true });
      }
    } finally {
      following = false;
      connection.textContent = "";
      connection.className = "connection";
    }
  }

  function ask(verb) {
    if (!CONFIRM[verb]) return act(verb);
    replace(
      confirmBar,
      h("span", { text: CONFIRM[verb] }),
      h("button", { type: "button", class: "danger", id: `confirm-${verb}`, onclick: () => { confirmBar.hidden = true; act(verb); }, text: `Yes, ${verb}` }),
      h("button", { type: "button", onclick: () => { confirmBar.hidden = true; }, text: "Cancel" }),
    );
    confirmBar.hidden = false;
  }

  async function act(verb) {
    for (const button of Object.values(buttons)) button.disabled = true;
    replace(messages);
    try {
      const path = verb === "retry" ? wfkit("instances", id, "retry") : dapr(id, verb);
      await post(path, null, { signal });
      if (verb === "purge") {
        stop.abort();
        replace(main, h("h1", { text: "Purged" }), h("p", { id: "purged", text: `Instance ${id} and its history were deleted.` }), h("p", {}, h("a", { href: "#/", text: "Back to the instances" })));
        return;
      }
      replace(messages, note("ok", `${verb}: done`));
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(messages, note("error", `${verb} failed: ${error.message}`));
    }
    if (await refresh({ quiet: true })) follow();
  }

  async function raise() {
    const name = eventName.value.trim();
    const text = eventData.value.trim();
    if (!name) {
      replace(eventMessage, note("error", "Give the event's name."));
      return;
    }
    if (text) {
      try {
        JSON.parse(text);
      } catch (error) {
        replace(eventMessage, note("error", `The data is not valid JSON: ${error.message}`));
        return;
      }
    }
    replace(eventMessage);
    try {
      await post(dapr(id, `raiseEvent/${encodeURIComponent(name)}`), text || null, { signal });
      replace(eventMessage, note("ok", `Sent “${name}”.`));
      eventData.value = "";
    } catch (error) {
      if (error.name !== "AbortError") replace(eventMessage, note("error", error.message));
    }
  }

  if (await refresh()) follow();
}
