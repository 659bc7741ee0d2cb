// The definitions: each one's problems, graph and YAML, and a form that starts it.

import { ApiError, getJSON, getText, post, wfkit } from "./api.js";
import { h, note, replace, route } from "./dom.js";
import { safeSvg } from "./svg.js";

function problemList(problems) {
  if (!Array.isArray(problems) || !problems.length) return null;
  return h(
    "ul",
    { class: "problems" },
    problems.map((p) => {
      const where = [p.file, p.line, p.column].filter((x) => x !== null && x !== undefined && x !== "").join(":");
      return h("li", {}, where ? h("code", { text: where }) : null, " ", p.message ?? "", p.hint ? h("span", { class: "hint", text: ` (${p.hint})` }) : null);
    }),
  );
}

function validity(item) {
  const count = Array.isArray(item.problems) ? item.problems.length : 0;
  return item.valid
    ? h("span", { class: "badge status-completed", text: "valid" })
    : h("span", { class: "badge status-failed", text: count === 1 ? "1 problem" : `${count} problems` });
}

/** The list of definitions. */
export async function definitionsPage(main, signal) {
  document.title = "Definitions · wfkit";
  const data = await getJSON(wfkit("definitions"), { signal });
  const items = Array.isArray(data.definitions) ? data.definitions : [];
  const cards = items.map((item) =>
    h(
      "article",
      { class: "card definition", "data-name": item.name ?? "" },
      h("h2", {}, item.name ? h("a", { href: route("definitions", item.name), text: item.name }) : h("span", { text: item.file ?? "(unnamed)" }), " ", validity(item)),
      item.description ? h("p", { text: item.description }) : null,
      h("p", { class: "muted" }, item.file ? h("code", { text: item.file }) : null, Array.isArray(item.events) && item.events.length ? ` · waits for ${item.events.join(", ")}` : ""),
      problemList(item.problems),
    ),
  );
  replace(
    main,
    h("div", { class: "page-head" }, h("h1", { text: "Definitions" })),
    cards.length ? h("div", { class: "cards" }, cards) : h("p", { class: "muted", text: "No definitions in the server's definitions folder." }),
  );
}

function defaultsOf(inputs) {
  const out = {};
  for (const [name, schema] of Object.entries(inputs && typeof inputs === "object" ? inputs : {})) {
    if (schema && typeof schema === "object" && "default" in schema) out[name] = schema.default;
  }
  return out;
}

/** One definition: graph, YAML, problems and the start form. */
export async function definitionPage(main, name, signal) {
  document.title = `${name} · wfkit`;
  let item;
  try {
    item = await getJSON(wfkit("definitions", name), { signal });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    replace(main, h("h1", { text: "No such definition" }), h("p", { text: error.message }), h("p", {}, h("a", { href: "#/definitions", text: "All definitions" })));
    return;
  }
  const graph = h("div", { class: "graph", id: "definition-graph" }, h("p", { class: "muted", text: "Drawing…" }));
  const idInput = h("input", { id: "start-id", autocomplete: "off", placeholder: "(a new id)", maxlength: "64" });
  const inputs = h("textarea", { id: "start-input", rows: "6", spellcheck: "false" });
  inputs.value = JSON.stringify(defaultsOf(item.inputs), null, 2);
  const message = h("div", { class: "messages", id: "start-message" });
  const form = h(
    "form",
    { class: "card start", id: "start-form", onsubmit: (event) => { event.preventDefault(); start(); } },
    h("h2", { text: "Start an instance" }),
    h("label", {}, "Instance ID ", idInput),
    h("label", {}, "Inputs (JSON) ", inputs),
    item.inputs && Object.keys(item.inputs).length ? h("details", {}, h("summary", { text: "inputs this workflow takes" }), h("pre", { text: JSON.stringify(item.inputs, null, 2) })) : null,
    h("button", { type: "submit", class: "primary", id: "start-button", disabled: !item.valid, text: "Start" }),
    message,
  );
  replace(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/definitions", text: "Definitions" }), " / "),
    h("div", { class: "page-head" }, h("h1", { text: item.name ?? name }), validity(item)),
    item.description ? h("p", { text: item.description }) : null,
    problemList(item.problems),
    h("div", { class: "columns" }, h("section", { class: "card graph-card" }, h("h2", { text: "Graph" }), graph), form),
    h("section", { class: "card" }, h("h2", {}, "YAML ", item.file ? h("code", { class: "muted", text: item.file }) : null), h("pre", { class: "yaml", id: "definition-yaml", text: item.yaml ?? "" })),
  );

  async function start() {
    const text = inputs.value.trim();
    if (text) {
      try {
        const value = JSON.parse(text);
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
          replace(message, note("error", "The inputs must be a JSON object, such as {\"who\": \"ana\"}."));
          return;
        }
      } catch (error) {
        replace(message, note("error", `The inputs are not valid JSON: ${error.message}`));
        return;
      }
    }
    const id = idInput.value.trim();
    const query = id ? `?instanceID=${encodeURIComponent(id)}` : "";
    replace(message);
    try {
      const reply = await post(`/v1.0/workflows/wfkit/${encodeURIComponent(item.name ?? name)}/start${query}`, text || null, { signal });
      location.hash = route("instances", String(reply?.instanceID ?? id));
    } catch (error) {
      if (error.name !== "AbortError") replace(message, note("error", error.message));
    }
  }

  if (item.valid) {
    try {
      const svg = safeSvg(await getText(wfkit("definitions", item.name ?? name, "graph.svg"), { signal }));
      replace(graph, svg ?? h("p", { class: "muted", text: "The graph could not be read." }));
    } catch (error) {
      if (error.name !== "AbortError") replace(graph, note("error", `graph: ${error.message}`));
    }
  } else {
    replace(graph, h("p", { class: "muted", text: "No graph: the definition has problems." }));
  }
}
