// An instance's step table (with each step's details) and its history timeline.

import { badge, between, formatSeconds, formatTime, h, preview, pretty, replace } from "./dom.js";

const TAIL_LINES = 20;
const CAPTURED = ["stdout", "stderr", "kernel_log"];

function tail(text) {
  const lines = String(text).replace(/\s+$/, "").split("\n");
  const kept = lines.slice(-TAIL_LINES);
  return { text: kept.join("\n"), cut: lines.length > kept.length };
}

const clip = (text, width) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

function errorLine(error) {
  if (!error) return "";
  return [error.type, error.message].filter(Boolean).join(": ");
}

function detailsOf(id, step) {
  const parts = [];
  if (step.error) {
    parts.push(h("h4", { text: "Error" }), h("p", { class: "error-text", text: errorLine(step.error) }));
    if (step.error.stack_trace) parts.push(h("pre", { class: "traceback", text: step.error.stack_trace }));
  }
  const details = step.details && typeof step.details === "object" ? step.details : {};
  for (const key of CAPTURED) {
    if (typeof details[key] !== "string" || !details[key].trim()) continue;
    const { text, cut } = tail(details[key]);
    const dropped = cut || details[`${key}_dropped`];
    parts.push(h("h4", { text: dropped ? `${key} (last ${TAIL_LINES} lines)` : key }), h("pre", { class: `captured ${key}`, text }));
  }
  const rest = Object.fromEntries(Object.entries(details).filter(([key]) => !CAPTURED.includes(key) && !key.endsWith("_dropped")));
  if (Object.keys(rest).length) parts.push(h("h4", { text: "Details" }), h("pre", { text: pretty(rest) }));
  if (step.output !== null && step.output !== undefined) {
    parts.push(h("h4", { text: "Output" }), h("pre", { class: "output", text: pretty(step.output) }));
  }
  if (!parts.length) parts.push(h("p", { class: "muted", text: "Nothing recorded yet." }));
  return h("tr", { class: "step-details", "data-step": id }, h("td", { colspan: "7" }, parts));
}

/** A step table that keeps which steps are opened across redraws. */
export class StepTable {
  constructor() {
    this.open = new Set();
    this.closed = new Set(); // failed steps the reader closed (they open by themselves)
    this.steps = {};
    this.body = h("tbody");
    this.element = h(
      "table",
      { class: "steps", id: "steps" },
      h("thead", {}, h("tr", {}, ["Step", "Status", "Attempts", "Started", "Duration", "Output", "Error"].map((t, i) => h("th", { class: i === 3 || i === 6 ? "wide" : null, text: t })))),
      this.body,
    );
  }

  isOpen(id, step) {
    return this.open.has(id) || (step.status === "failed" && !this.closed.has(id));
  }

  toggle(id) {
    const step = this.steps[id];
    if (this.isOpen(id, step)) {
      this.open.delete(id);
      this.closed.add(id);
    } else {
      this.open.add(id);
      this.closed.delete(id);
    }
    this.draw();
  }

  update(steps) {
    this.steps = steps && typeof steps === "object" ? steps : {};
    this.draw();
  }

  draw() {
    const rows = [];
    for (const [id, step] of Object.entries(this.steps)) {
      const open = this.isOpen(id, step);
      const items = step.items !== null && step.items !== undefined ? ` · ${step.items} items` : "";
      rows.push(
        h(
          "tr",
          { class: `step${open ? " open" : ""}`, "data-step": id },
          h(
            "td",
            { class: "step-id" },
            h("button", { type: "button", class: "disclose", "aria-expanded": String(open), onclick: () => this.toggle(id), text: id }),
          ),
          h("td", {}, badge(step.status)),
          h("td", { class: "num", text: `${step.attempts || ""}${items}` }),
          h("td", { class: "time wide", text: formatTime(step.startedAt, { date: false }) }),
          h("td", { class: "num", text: formatSeconds(between(step.startedAt, step.endedAt)) }),
          h("td", { class: "preview", text: preview(step.output, 60) }),
          h("td", { class: "error-text wide", title: errorLine(step.error) || null, text: clip(errorLine(step.error), 160) }),
        ),
      );
      if (open) rows.push(detailsOf(id, step));
    }
    replace(this.body, rows.length ? rows : h("tr", {}, h("td", { colspan: "7", class: "muted", text: "No steps." })));
  }
}

const QUIET = new Set(["seq", "type", "at", "step", "v"]);

/** One history event as a line of the timeline. */
export function eventItem(event) {
  const rest = Object.fromEntries(Object.entries(event).filter(([key]) => !QUIET.has(key)));
  const index = event.index !== undefined && event.index !== null ? `[${event.index}]` : "";
  delete rest.index;
  const kind = String(event.type ?? "").replace(/[^A-Za-z0-9]/g, "");
  return h(
    "li",
    { class: `event ev-${kind}${event.status === "FAILED" ? " ev-failed" : ""}`, "data-seq": String(event.seq ?? "") },
    h("time", { datetime: String(event.at ?? ""), text: formatTime(event.at, { ms: true, date: false }) }),
    h("span", { class: "type", text: event.type ?? "" }),
    event.step ? h("span", { class: "step", text: `${event.step}${index}` }) : null,
    Object.keys(rest).length ? h("span", { class: "data", title: pretty(rest, 2000), text: preview(rest, 120) }) : null,
  );
}
