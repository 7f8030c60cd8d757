// GraphQL over HTTP (session cookie + X-CSRF-Token) and over the websocket (graphql-transport-ws).
// The app sends only the operations in graphql/operations/, as the service serves them by name
// (GET /graphql/operations.json: each operation with the fragments it uses): there is one copy.

let known = null;

function operations() {
  if (!known) {
    known = fetch("/graphql/operations.json", { credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(`operations.json: ${response.status}`);
        return response.json();
      })
      .catch((error) => { known = null; throw error; });
  }
  return known;
}

export async function documentFor(name) {
  const all = await operations();
  if (!Object.hasOwn(all, name)) throw new Error(`unknown operation ${name}`);
  return all[name];
}

let session = null; // {kind, name, csrfToken}

export async function signedIn() {
  const response = await fetch("/auth/me", { credentials: "same-origin" });
  if (response.status === 401) return null;
  if (!response.ok) throw new Error(`auth/me: ${response.status}`);
  session = await response.json();
  return session;
}

export class GraphQLError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export async function request(name, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": session ? session.csrfToken : "" },
    body: JSON.stringify({ query: await documentFor(name), variables, operationName: name }),
  });
  if (response.status === 401) {
    window.dispatchEvent(new Event("sip:signed-out")); // the session ended: the shell offers sign-in
    throw new GraphQLError("Not signed in", "UNAUTHENTICATED");
  }
  const body = await response.json().catch(() => ({}));
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw new GraphQLError(e.message, (e.extensions && e.extensions.code) || "ERROR");
  }
  if (!response.ok) throw new GraphQLError(`HTTP ${response.status}`, "HTTP");
  return body.data;
}

// One websocket for the page; subscriptions resubscribe after a reconnect.
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
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    const socket = new WebSocket(url, "graphql-transport-ws");
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { csrf: session.csrfToken } }));
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "connection_ack") {
        this.ready = true;
        this.retry = 500;
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
      if (this.subs.size) {
        setTimeout(() => this.connect(), this.retry);
        this.retry = Math.min(this.retry * 2, 15000);
      }
    });
  }
}

export const live = new Live();
