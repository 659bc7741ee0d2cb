// A graph's SVG into the page, rebuilt through an allow-list: only drawing elements and
// presentation attributes are copied, so nothing in it can run (no script, no event
// handler, no link, no foreign object), whatever the server sent.

const SVG_NS = "http://www.w3.org/2000/svg";
const XLINK_NS = "http://www.w3.org/1999/xlink";

const ELEMENTS = new Set([
  "svg", "g", "path", "polygon", "polyline", "ellipse", "circle", "rect", "line",
  "text", "tspan", "title",
]);

const ATTRIBUTES = new Set([
  "id", "class", "transform", "viewBox", "width", "height", "x", "y", "x1", "y1", "x2",
  "y2", "cx", "cy", "r", "rx", "ry", "d", "points", "fill", "fill-opacity", "stroke",
  "stroke-width", "stroke-dasharray", "stroke-opacity", "stroke-linecap",
  "stroke-linejoin", "opacity", "font-family", "font-size", "font-weight", "font-style",
  "text-anchor", "text-decoration", "dominant-baseline", "baseline-shift",
  "letter-spacing", "preserveAspectRatio",
]);

// Values that could point elsewhere or carry code are refused even on allowed names.
const UNSAFE_VALUE = /url\s*\(|javascript:|expression\s*\(|[<>]/i;

function copy(source, target) {
  for (const child of source.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      target.append(document.createTextNode(child.nodeValue));
      continue;
    }
    if (child.nodeType !== Node.ELEMENT_NODE || child.namespaceURI !== SVG_NS) continue;
    let name = child.localName;
    let title = null;
    if (name === "a") {
      // graphviz wraps nodes in links that carry the tooltip: keep the tooltip only
      title = child.getAttributeNS(XLINK_NS, "title") || child.getAttribute("title");
      name = "g";
    } else if (!ELEMENTS.has(name)) {
      continue;
    }
    const made = document.createElementNS(SVG_NS, name);
    for (const attr of child.attributes) {
      if (attr.namespaceURI || !ATTRIBUTES.has(attr.name)) continue;
      if (UNSAFE_VALUE.test(attr.value)) continue;
      made.setAttribute(attr.name, attr.value);
    }
    if (title) {
      const tip = document.createElementNS(SVG_NS, "title");
      tip.textContent = title;
      made.append(tip);
    }
    copy(child, made);
    target.append(made);
  }
}

/** The SVG text as a safe <svg> element (null when it is not an SVG document). */
export function safeSvg(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (!root || root.localName !== "svg" || root.namespaceURI !== SVG_NS) return null;
  if (doc.getElementsByTagName("parsererror").length) return null;
  const holder = document.createElementNS(SVG_NS, "g");
  const wrapper = doc.createElementNS(SVG_NS, "g");
  wrapper.append(root.cloneNode(true));
  copy(wrapper, holder);
  const svg = holder.firstElementChild;
  if (!svg) return null;
  svg.setAttribute("role", "img");
  return svg;
}
