// Talking to the server: JSON routes, the API token, and Server-Sent Events read with
// fetch() (EventSource cannot send the token header).

const TOKEN_KEY = "wfkit.apiToken";

/** An error reply of the server, as {"errorCode", "message"}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let asking = null; // the open token prompt, shared by every request that got 401

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Show the token dialog; resolves once a token is stored. */
function askToken(refused) {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    const dialog = document.getElementById("token-dialog");
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    const reason = document.getElementById("token-reason");
    if (refused) {
      reason.textContent = "The server refused the token given. Enter it again.";
      reason.classList.add("error");
    }
    input.value = "";
    const done = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      form.removeEventListener("submit", done);
      dialog.close();
      resolve(token);
    };
    form.addEventListener("submit", done);
    dialog.addEventListener("cancel", (event) => event.preventDefault(), { once: true });
    dialog.showModal();
    input.focus();
  }).finally(() => {
    asking = null;
  });
  return asking;
}

/** fetch() with the token; on 401 asks for the token (once for all) and tries again. */
export async function request(method, path, { body, type, signal, accept } = {}) {
  for (;;) {
    const sent = storedToken();
    const headers = new Headers();
    if (sent) headers.set("dapr-api-token", sent);
    if (type) headers.set("content-type", type);
    if (accept) headers.set("accept", accept);
    const reply = await fetch(path, { method, headers, body, signal, cache: "no-store" });
    if (reply.status !== 401) return reply;
    await reply.body?.cancel();
    if (storedToken() === sent) await askToken(sent !== null);
  }
}

async function failure(reply) {
  const text = await reply.text();
  let code = `HTTP ${reply.status}`;
  let message = text.slice(0, 500) || reply.statusText;
  try {
    const data = JSON.parse(text);
    if (data && typeof data === "object") {
      code = String(data.errorCode ?? code);
      message = String(data.message ?? message);
    }
  } catch {
    // not JSON: the text as it is
  }
  return new ApiError(reply.status, code, message);
}

/** GET a JSON route. */
export async function getJSON(path, options = {}) {
  const reply = await request("GET", path, { ...options, accept: "application/json" });
  if (!reply.ok) throw await failure(reply);
  return reply.json();
}

/** GET a text route (an SVG, say). */
export async function getText(path, options = {}) {
  const reply = await request("GET", path, options);
  if (!reply.ok) throw await failure(reply);
  return reply.text();
}

/** POST, with a body of JSON text (or none); returns the reply's JSON or null. */
export async function post(path, jsonText = null, options = {}) {
  const body = jsonText === null || jsonText === "" ? undefined : jsonText;
  const type = body === undefined ? undefined : "application/json";
  const reply = await request("POST", path, { ...options, body, type });
  if (!reply.ok) throw await failure(reply);
  const text = await reply.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * Read a Server-Sent Events stream: onEvent(name, data) for each event; resolves when
 * the server ends it, rejects on an error reply or a broken connection.
 */
export async function stream(path, onEvent, signal) {
  const reply = await request("GET", path, { signal, accept: "text/event-stream" });
  if (!reply.ok) throw await failure(reply);
  const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // a "\r" at the end may be the first half of a "\r\n": keep it for the next chunk
    const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
    const lines = buffer.slice(0, cut).replace(/\r\n?/g, "\n").split("\n");
    buffer = lines.pop() + buffer.slice(cut);
    for (const line of lines) {
      if (line === "") {
        if (data.length) onEvent(name, data.join("\n"));
        name = "message";
        data = [];
      } else if (line.startsWith(":")) {
        // a comment: the server's keep-alive ping
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = text;
        else if (field === "data") data.push(text);
      }
    }
  }
}

/** Dapr's workflow routes, for the lifecycle verbs. */
export const dapr = (id, verb) =>
  `/v1.0/workflows/wfkit/${encodeURIComponent(id)}/${verb}`;

/** wfkit's own routes. */
export const wfkit = (...parts) =>
  "/v1.0/wfkit/" + parts.map((part) => encodeURIComponent(part)).join("/");
