// The instance list: filters by status and workflow name, pages, auto-refresh.

import { ApiError, getJSON, wfkit } from "./api.js";
import { badge, formatTime, h, note, replace, route } from "./dom.js";

export const RUNTIME_STATUSES = [
  "RUNNING", "PENDING", "SUSPENDED", "COMPLETED", "FAILED", "TERMINATED", "CANCELED",
  "CONTINUED_AS_NEW",
];
const PAGE_SIZES = [25, 50, 100, 200];
const REFRESH_MS = 2000;

function filtersOf(query) {
  const status = query.getAll("status").filter((s) => RUNTIME_STATUSES.includes(s));
  const limit = Number(query.get("limit")) || 50;
  return { status, name: query.get("name") || "", limit: PAGE_SIZES.includes(limit) ? limit : 50 };
}

function hashOf(filters) {
  const query = new URLSearchParams();
  for (const s of filters.status) query.append("status", s);
  if (filters.name) query.set("name", filters.name);
  if (filters.limit !== 50) query.set("limit", String(filters.limit));
  const text = query.toString();
  return text ? `#/?${text}` : "#/";
}

function rowOf(item) {
  const id = String(item.instanceID ?? "");
  return h(
    "tr",
    { "data-id": id },
    h("td", { class: "id" }, h("a", { href: route("instances", id), text: id })),
    h("td", { text: item.workflowName ?? "" }),
    h("td", {}, badge(item.runtimeStatus)),
    h("td", { class: "time", text: formatTime(item.startedAt) }),
    h("td", { class: "time wide", text: formatTime(item.lastUpdatedAt) }),
    h("td", { class: "wide note-cell", text: item.customStatus ?? "" }),
  );
}

/** The instance list page. */
export async function listPage(main, query, signal) {
  document.title = "Instances · wfkit";
  const filters = filtersOf(query);
  const cursors = [null]; // cursors[i]: where page i starts
  let page = 0;
  let timer = null;
  let shown = "";

  const statusBoxes = RUNTIME_STATUSES.map((status) =>
    h(
      "label",
      { class: `chip rs-${status}` },
      h("input", {
        type: "checkbox",
        name: "status",
        value: status,
        checked: filters.status.includes(status),
        onchange: () => go({ status: checked() }),
      }),
      status.toLowerCase().replace(/_/g, " "),
    ),
  );
  const checked = () => statusBoxes.map((label) => label.firstChild).filter((box) => box.checked).map((box) => box.value);
  const names = h("datalist", { id: "workflow-names" });
  const nameInput = h("input", {
    type: "search",
    id: "name-filter",
    list: "workflow-names",
    placeholder: "any workflow",
    value: filters.name,
    onchange: () => go({ name: nameInput.value.trim() }),
  });
  const sizeSelect = h(
    "select",
    { id: "page-size", onchange: () => go({ limit: Number(sizeSelect.value) }) },
    PAGE_SIZES.map((size) => h("option", { value: String(size), selected: size === filters.limit, text: `${size} a page` })),
  );
  const auto = h("input", { type: "checkbox", id: "auto-refresh", checked: true, onchange: () => schedule() });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "instances" },
    h("thead", {}, h("tr", {}, ["Instance", "Workflow", "Status", "Started"].map((t) => h("th", { text: t })), h("th", { class: "wide", text: "Updated" }), h("th", { class: "wide", text: "Note" }))),
    body,
  );
  const message = h("div", { class: "messages" });
  const newer = h("button", { type: "button", id: "page-newer", onclick: () => turn(-1), text: "← Newer" });
  const older = h("button", { type: "button", id: "page-older", onclick: () => turn(1), text: "Older →" });
  const where = h("span", { id: "page-number", class: "muted" });
  const clear = h("button", { type: "button", class: "link", onclick: () => go({ status: [], name: "" }), text: "clear filters" });

  replace(
    main,
    h("div", { class: "page-head" }, h("h1", { text: "Instances" }), h("label", { class: "auto" }, auto, " auto-refresh")),
    h(
      "form",
      { class: "filters", onsubmit: (event) => event.preventDefault() },
      h("fieldset", { class: "statuses" }, h("legend", { text: "Status" }), statusBoxes),
      h("label", { class: "name" }, "Workflow ", nameInput, names),
      h("label", {}, sizeSelect),
      clear,
    ),
    message,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "pager" }, newer, where, older),
  );

  // A change applies to the filters of the address as it is now, not as this page was
  // drawn: a second change made before the page is drawn again must not undo the first.
  function go(change) {
    const now = new URLSearchParams(location.hash.split("?")[1] || "");
    location.hash = hashOf({ ...filtersOf(now), ...change });
  }

  function schedule() {
    clearTimeout(timer);
    // a hidden tab asks nothing of the server; it catches up when shown again
    const next = () => (document.hidden ? schedule() : load().finally(schedule));
    if (auto.checked && !signal.aborted) timer = setTimeout(next, REFRESH_MS);
  }

  function turn(step) {
    page = Math.max(0, Math.min(cursors.length - 1, page + step));
    shown = "";
    load().finally(schedule);
  }

  async function load() {
    const params = new URLSearchParams();
    for (const s of filters.status) params.append("status", s);
    if (filters.name) params.set("name", filters.name);
    params.set("limit", String(filters.limit));
    if (cursors[page]) params.set("cursor", cursors[page]);
    let data;
    try {
      data = await getJSON(`${wfkit("instances")}?${params}`, { signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      const text = error instanceof ApiError ? `${error.message} (${error.code})` : `cannot reach the server: ${error.message}`;
      replace(message, note("error", text));
      return;
    }
    replace(message);
    const items = Array.isArray(data.instances) ? data.instances : [];
    cursors.length = page + 1;
    if (data.nextCursor) cursors.push(String(data.nextCursor));
    const seen = JSON.stringify(items);
    if (seen !== shown) {
      shown = seen;
      const none = filters.status.length || filters.name || page
        ? h("td", { colspan: "6", class: "empty muted", text: "No instances match." })
        : h("td", { colspan: "6", class: "empty muted" }, "No instances yet: start one from ", h("a", { href: "#/definitions", text: "a definition" }), ".");
      replace(body, items.length ? items.map(rowOf) : h("tr", {}, none));
    }
    const first = page * filters.limit;
    where.textContent = items.length ? `page ${page + 1} · ${first + 1}–${first + items.length}` : `page ${page + 1}`;
    newer.disabled = page === 0;
    older.disabled = !data.nextCursor;
  }

  signal.addEventListener("abort", () => clearTimeout(timer));
  getJSON(wfkit("definitions"), { signal })
    .then((data) => {
      const list = (data.definitions ?? []).map((d) => d.name).filter(Boolean);
      replace(names, [...new Set(list)].sort().map((name) => h("option", { value: name })));
    })
    .catch(() => {}); // the names are a convenience
  await load();
  schedule();
}
