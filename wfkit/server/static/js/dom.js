// Building the page: every value goes in as text (textContent, never HTML).

/**
 * An element: h("td", {class: "num", title: "x"}, "text", child, ...).
 * props: class, text, on<Event> functions, other keys become attributes; children are
 * nodes or strings (strings become text nodes); null, undefined and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings as text, arrays flattened) to el. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace el's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A link to a page of the dashboard: parts are encoded, so an id cannot leave its place. */
export function route(...parts) {
  return "#/" + parts.map((part) => encodeURIComponent(part)).join("/");
}

/** A status badge: runtime statuses (RUNNING) and step statuses (running). */
export function badge(status) {
  const text = String(status ?? "");
  const cls = /^[A-Z_]+$/.test(text) ? `rs-${text}` : `status-${text.replace(/[^a-z0-9_-]/g, "_")}`;
  return h("span", { class: `badge ${cls}`, text: text.toLowerCase().replace(/_/g, " ") });
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** An RFC 3339 time as local "2026-12-07 14:03:27" (with ms when asked). */
export function formatTime(iso, { ms = false, date = true } = {}) {
  if (!iso) return "";
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return String(iso);
  const day = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
  let clock = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  if (ms) clock += `.${pad(t.getMilliseconds(), 3)}`;
  return date ? `${day} ${clock}` : clock;
}

/** Seconds as "0.31 s", "12.4 s", "3 m 05 s", "2 h 01 m". */
export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} m ${pad(Math.floor(seconds % 60))} s`;
  return `${Math.floor(seconds / 3600)} h ${pad(Math.floor((seconds % 3600) / 60))} m`;
}

/** The seconds between two RFC 3339 times (to now when the end is missing), or null. */
export function between(start, end) {
  if (!start) return null;
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : Date.now();
  return Number.isNaN(from) || Number.isNaN(to) ? null : Math.max(0, (to - from) / 1000);
}

/** Any value as one short line of JSON. */
export function preview(value, width = 80) {
  if (value === null || value === undefined) return "";
  let text;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  text = (text ?? String(value)).replace(/\s+/g, " ");
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** Any value as indented JSON, clipped at max characters. */
export function pretty(value, max = 20000) {
  let text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  text = text ?? String(value);
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters)` : text;
}

/** A message line: kind "error" (role alert), "ok" or "" (plain). */
export function note(kind, text) {
  return h("p", { class: `note ${kind}`, role: kind === "error" ? "alert" : "status", text });
}
