// The dashboard's entry point: hash routes to pages, one page at a time.
//   #/                     instances (#/?status=RUNNING&name=hello&limit=50)
//   #/instances/ID         one instance
//   #/definitions          definitions
//   #/definitions/NAME     one definition

import { instancePage } from "./instance.js";
import { definitionPage, definitionsPage } from "./definitions.js";
import { listPage } from "./list.js";
import { h, replace } from "./dom.js";

const main = document.getElementById("main");
let current = null; // the AbortController of the page shown

function parse(hash) {
  const text = hash.replace(/^#\/?/, "");
  const [path, query = ""] = text.split("?", 2);
  const parts = path.split("/").filter(Boolean).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  return { parts, query: new URLSearchParams(query) };
}

function show() {
  current?.abort();
  current = new AbortController();
  const { parts, query } = parse(location.hash);
  let page;
  let section = "instances";
  if (parts.length === 0) page = () => listPage(main, query, current.signal);
  else if (parts[0] === "instances" && parts.length === 2) {
    page = () => instancePage(main, parts[1], current.signal);
  } else if (parts[0] === "definitions" && parts.length === 1) {
    section = "definitions";
    page = () => definitionsPage(main, current.signal);
  } else if (parts[0] === "definitions" && parts.length === 2) {
    section = "definitions";
    page = () => definitionPage(main, parts[1], current.signal);
  } else {
    page = () =>
      replace(main, h("h1", { text: "No such page" }), h("p", {}, h("a", { href: "#/", text: "Instances" })));
  }
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === section);
  }
  replace(main, h("p", { class: "muted", text: "Loading…" }));
  Promise.resolve()
    .then(page)
    .catch((error) => {
      if (error.name === "AbortError") return;
      replace(main, h("h1", { text: "Something went wrong" }), h("p", { class: "note error", role: "alert", text: error.message }));
    });
}

window.addEventListener("hashchange", show);
show();
