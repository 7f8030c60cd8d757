// The GraphQL client both apps use (web/ and video/: import from /app/lib/gql.js).
// It sends only the service's own operations (graphql/operations/), as the service serves them by
// name (GET /graphql/operations.json: each operation with the fragments it uses): there is one copy.
//   - request(): a query or mutation over HTTP (session cookie + X-CSRF-Token): the plan app.
//   - live: the plan app's one websocket for subscriptions, resubscribing after a reconnect.
//   - GraphQLSocket: one websocket that carries everything (queries, mutations, the meeting's
//     events), signed in with its connection_init payload: the video page (guests have no cookie).

/** A problem with a code: a typed GraphQL error (NOT_FOUND, …), a refusal, or the network. */
export class Problem extends Error {
  constructor(code, message = "", extra = {}) {
    super(message || code);
    this.code = code;
    this.extra = extra;
  }
}

/** A typed error from a result union (it has __typename …Error and a code). */
export function isProblem(value) {
  return Boolean(value && typeof value === "object" && typeof value.code === "string" && value.__typename);
}

let loading = null;
let operations = null;

/** The operations, by name, from GET /graphql/operations.json (their one copy); fetched once. */
export function loadOperations() {
  if (!loading) {
    loading = fetch("/graphql/operations.json", { cache: "no-cache", credentials: "same-origin" })
      .catch(() => { throw new Problem("NETWORK"); })
      .then((response) => {
        if (!response.ok) throw new Problem(response.status >= 500 ? "NETWORK" : "UNKNOWN", `operations.json: ${response.status}`);
        return response.json();
      })
      .then((all) => { operations = all; return all; })
      .catch((error) => { loading = null; throw error; });
  }
  return loading;
}

export async function documentFor(name) {
  const all = await loadOperations();
  if (!Object.hasOwn(all, name)) throw new Problem("UNKNOWN", `unknown operation ${name}`);
  return all[name];
}

let session = null; // {kind, name, csrfToken}

/** GET /auth/me: {kind, name, csrfToken} of the signed-in person, or null when nobody is. */
export async function signedIn() {
  let response;
  try {
    response = await fetch("/auth/me", { cache: "no-store", credentials: "same-origin" });
  } catch {
    throw new Problem("NETWORK");
  }
  if (response.status === 401) return null;
  if (!response.ok) throw new Problem("UNKNOWN", `auth/me: ${response.status}`);
  session = await response.json();
  return session;
}

/** A query or mutation over HTTP: its data (a typed error stays in its result union). */
export async function request(name, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": session ? session.csrfToken : "" },
    body: JSON.stringify({ query: await documentFor(name), variables, operationName: name }),
  });
  if (response.status === 401) {
    window.dispatchEvent(new Event("sip:signed-out")); // the session ended: the shell offers sign-in
    throw new Problem("UNAUTHENTICATED", "Not signed in");
  }
  const body = await response.json().catch(() => ({}));
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw new Problem((e.extensions && e.extensions.code) || "ERROR", e.message);
  }
  if (!response.ok) throw new Problem("HTTP", `HTTP ${response.status}`);
  return body.data;
}

export function socketUrl() {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/graphql`;
}

// The plan app's websocket: subscriptions only, signed in by the session (csrf); they resubscribe
// after a reconnect. The pause before reconnecting grows (0.5 s … 15 s) while sockets close soon
// after opening, as the service closes them (1013) while the database or Redis is away.
class Live {
  constructor() {
    this.socket = null;
    this.ready = false;
    this.subs = new Map(); // id -> {name, variables, onNext}
    this.nextId = 1;
    this.retry = 500;
    this.onStatus = () => {};
  }

  subscribe(name, variables, onNext) {
    const id = String(this.nextId++);
    this.subs.set(id, { name, variables, onNext });
    if (this.ready) this.send(id);
    else this.connect();
    return () => {
      this.subs.delete(id);
      if (this.ready) this.socket.send(JSON.stringify({ id, type: "complete" }));
    };
  }

  async send(id) {
    const s = this.subs.get(id);
    const query = await documentFor(s.name);
    if (!this.ready || !this.subs.has(id)) return;
    this.socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables: s.variables, operationName: s.name } }));
  }

  connect() {
    if (this.socket || !session) return;
    const socket = new WebSocket(socketUrl(), "graphql-transport-ws");
    const opened = Date.now();
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { csrf: session.csrfToken } }));
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "connection_ack") {
        this.ready = true;
        this.onStatus(true);
        for (const id of this.subs.keys()) this.send(id);
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "next") {
        const s = this.subs.get(message.id);
        if (s) s.onNext(message.payload);
      }
    });
    socket.addEventListener("close", () => {
      this.socket = null;
      this.ready = false;
      this.onStatus(false);
      if (Date.now() - opened > 10000) this.retry = 500; // it served a while: a fresh start
      if (this.subs.size) {
        setTimeout(() => this.connect(), this.retry);
        this.retry = Math.min(this.retry * 2, 15000);
      }
    });
  }
}

export const live = new Live();

const ACK_TIMEOUT_MS = 10_000;
const PING_EVERY_MS = 20_000;
const PONG_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 20_000;

// The video page's websocket: queries, mutations and subscriptions, with a keep-alive.
export class GraphQLSocket {
  /**
   * @param {string} url ws(s)://…/graphql
   * @param {object} payload the connection_init payload ({authorization} or {csrf})
   * @param {(code: number, reason: string) => void} onClose after the connection was acknowledged
   */
  constructor(url, payload, onClose) {
    this.url = url;
    this.payload = payload;
    this.onClose = onClose;
    this.ws = null;
    this.nextId = 0;
    this.handlers = new Map();
    this.closedByUs = false;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  /** Open and sign in; resolves when the server acknowledges, rejects with a Problem otherwise. */
  connect() {
    return new Promise((resolve, reject) => {
      let acknowledged = false;
      let ws;
      try {
        ws = new WebSocket(this.url, "graphql-transport-ws");
      } catch {
        reject(new Problem("NETWORK"));
        return;
      }
      this.ws = ws;
      const ackTimer = setTimeout(() => ws.close(4408, "no ack"), ACK_TIMEOUT_MS);
      ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: this.payload }));
      ws.onmessage = (message) => {
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        if (data.type === "connection_ack") {
          acknowledged = true;
          clearTimeout(ackTimer);
          this.keepAlive();
          resolve();
        } else if (data.type === "ping") {
          ws.send(JSON.stringify({ type: "pong" }));
        } else if (data.type === "pong") {
          clearTimeout(this.pongTimer);
        } else if (data.id !== undefined && this.handlers.has(data.id)) {
          this.handlers.get(data.id)(data);
        }
      };
      ws.onclose = (event) => {
        clearTimeout(ackTimer);
        this.stopKeepAlive();
        const handlers = [...this.handlers.values()];
        this.handlers.clear();
        for (const handler of handlers) handler({ type: "closed", code: event.code });
        if (!acknowledged) {
          // 4403: the sign-in was refused (an expired meeting token, a lost session)
          reject(new Problem(event.code === 4403 || event.code === 4401 ? "UNAUTHENTICATED" : "NETWORK"));
        } else if (!this.closedByUs) {
          this.onClose(event.code, event.reason);
        }
      };
    });
  }

  keepAlive() {
    // Phones lose connections silently: a ping that gets no pong means the connection is gone.
    this.pingTimer = setInterval(() => {
      if (this.ws?.readyState !== WebSocket.OPEN) return;
      this.ws.send(JSON.stringify({ type: "ping" }));
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.ws?.close(4000, "no pong"), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopKeepAlive() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  close() {
    this.closedByUs = true;
    this.stopKeepAlive();
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, "bye");
  }

  start(name, variables, handler) {
    if (this.ws?.readyState !== WebSocket.OPEN) throw new Problem("NETWORK");
    const query = operations?.[name];
    if (!query) throw new Problem("UNKNOWN", `unknown operation ${name}`);
    const id = String(++this.nextId);
    this.handlers.set(id, handler);
    const payload = { query, variables, operationName: name };
    this.ws.send(JSON.stringify({ id, type: "subscribe", payload }));
    return id;
  }

  stop(id) {
    if (!this.handlers.delete(id)) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ id, type: "complete" }));
  }

  /** A query or mutation: its one result field (which may be a typed error: see isProblem). */
  request(name, variables) {
    return new Promise((resolve, reject) => {
      let id;
      const timer = setTimeout(() => {
        this.stop(id);
        reject(new Problem("NETWORK"));
      }, REQUEST_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        this.handlers.delete(id);
      };
      try {
        id = this.start(name, variables, (message) => {
          if (message.type === "next") {
            done();
            const { data, errors } = message.payload || {};
            if (errors?.length) reject(topLevelProblem(errors));
            else resolve(data ? Object.values(data)[0] : null);
          } else if (message.type === "error") {
            done();
            reject(topLevelProblem(message.payload));
          } else if (message.type === "closed" || message.type === "complete") {
            done();
            reject(new Problem("NETWORK"));
          }
        });
      } catch (error) {
        clearTimeout(timer);
        reject(error);
      }
    });
  }

  /** A subscription: onEvent(field value) for each event, onEnd(problem or null) once when it ends. */
  subscribe(name, variables, onEvent, onEnd) {
    let ended = false;
    const end = (problem) => {
      if (ended) return;
      ended = true;
      onEnd(problem);
    };
    const id = this.start(name, variables, (message) => {
      if (message.type === "next") {
        const { data, errors } = message.payload || {};
        if (errors?.length) end(topLevelProblem(errors));
        else if (data) onEvent(Object.values(data)[0]);
      } else if (message.type === "error") {
        end(topLevelProblem(message.payload));
      } else if (message.type === "complete") {
        this.handlers.delete(id);
        end(null);
      } else if (message.type === "closed") {
        end(new Problem("NETWORK"));
      }
    });
    return () => {
      ended = true;
      this.stop(id);
    };
  }
}

function topLevelProblem(errors) {
  const first = Array.isArray(errors) ? errors[0] : errors;
  const code = first?.extensions?.code || "UNKNOWN";
  return new Problem(code, first?.message || "");
}

