// A small GraphQL client over one websocket (graphql-transport-ws): queries, mutations and the
// meeting's event subscription all go over it; it signs in with its connection_init payload.
// It sends only the service's own operations (graphql/operations/), fetched by name.

const ACK_TIMEOUT_MS = 10_000;
const PING_EVERY_MS = 20_000;
const PONG_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 20_000;

let operations = null;

/** The operations, by name, from GET /graphql/operations.json (their one copy); once. */
export async function loadOperations() {
  if (operations) return operations;
  let response;
  try {
    response = await fetch('/graphql/operations.json', { cache: 'no-cache', credentials: 'omit' });
  } catch {
    throw new Problem('NETWORK');
  }
  if (!response.ok) throw new Problem(response.status >= 500 ? 'NETWORK' : 'UNKNOWN');
  operations = await response.json();
  return operations;
}

/** A problem with a code: a typed GraphQL error (NotFoundError, …), a refusal, or the network. */
export class Problem extends Error {
  constructor(code, message = '', extra = {}) {
    super(message || code);
    this.code = code;
    this.extra = extra;
  }
}

/** A typed error from a result union (it has __typename …Error and a code). */
export function isProblem(value) {
  return Boolean(value && typeof value === 'object' && typeof value.code === 'string' && value.__typename);
}

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
        ws = new WebSocket(this.url, 'graphql-transport-ws');
      } catch {
        reject(new Problem('NETWORK'));
        return;
      }
      this.ws = ws;
      const ackTimer = setTimeout(() => ws.close(4408, 'no ack'), ACK_TIMEOUT_MS);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: this.payload }));
      ws.onmessage = (message) => {
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        if (data.type === 'connection_ack') {
          acknowledged = true;
          clearTimeout(ackTimer);
          this.keepAlive();
          resolve();
        } else if (data.type === 'ping') {
          ws.send(JSON.stringify({ type: 'pong' }));
        } else if (data.type === 'pong') {
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
        for (const handler of handlers) handler({ type: 'closed', code: event.code });
        if (!acknowledged) {
          // 4403: the sign-in was refused (an expired meeting token, a lost session)
          reject(new Problem(event.code === 4403 || event.code === 4401 ? 'UNAUTHENTICATED' : 'NETWORK'));
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
      this.ws.send(JSON.stringify({ type: 'ping' }));
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.ws?.close(4000, 'no pong'), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopKeepAlive() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  close() {
    this.closedByUs = true;
    this.stopKeepAlive();
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'bye');
  }

  start(name, variables, handler) {
    if (this.ws?.readyState !== WebSocket.OPEN) throw new Problem('NETWORK');
    const query = operations?.[name];
    if (!query) throw new Problem('UNKNOWN', `unknown operation ${name}`);
    const id = String(++this.nextId);
    this.handlers.set(id, handler);
    const payload = { query, variables, operationName: name };
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload }));
    return id;
  }

  stop(id) {
    if (!this.handlers.delete(id)) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ id, type: 'complete' }));
  }

  /** A query or mutation: its one result field (which may be a typed error: see isProblem). */
  request(name, variables) {
    return new Promise((resolve, reject) => {
      let id;
      const timer = setTimeout(() => {
        this.stop(id);
        reject(new Problem('NETWORK'));
      }, REQUEST_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        this.handlers.delete(id);
      };
      try {
        id = this.start(name, variables, (message) => {
          if (message.type === 'next') {
            done();
            const { data, errors } = message.payload || {};
            if (errors?.length) reject(topLevelProblem(errors));
            else resolve(data ? Object.values(data)[0] : null);
          } else if (message.type === 'error') {
            done();
            reject(topLevelProblem(message.payload));
          } else if (message.type === 'closed' || message.type === 'complete') {
            done();
            reject(new Problem('NETWORK'));
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
      if (message.type === 'next') {
        const { data, errors } = message.payload || {};
        if (errors?.length) end(topLevelProblem(errors));
        else if (data) onEvent(Object.values(data)[0]);
      } else if (message.type === 'error') {
        end(topLevelProblem(message.payload));
      } else if (message.type === 'complete') {
        this.handlers.delete(id);
        end(null);
      } else if (message.type === 'closed') {
        end(new Problem('NETWORK'));
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
  const code = first?.extensions?.code || 'UNKNOWN';
  return new Problem(code, first?.message || '');
}

/** POST /auth/invite: the invite token for a meeting token; a Problem with the refusal's code. */
export async function exchangeInvite(token) {
  let response;
  try {
    response = await fetch('/auth/invite', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new Problem('NETWORK');
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: the code below says what happened
  }
  if (!response.ok) throw new Problem(body.code || (response.status >= 500 ? 'NETWORK' : 'UNKNOWN'), body.message);
  return body;
}

/** GET /auth/me: {kind, name, csrfToken} of the signed-in person, or null when nobody is. */
export async function signedIn() {
  let response;
  try {
    response = await fetch('/auth/me', { cache: 'no-store', credentials: 'same-origin' });
  } catch {
    throw new Problem('NETWORK');
  }
  if (response.status === 401) return null;
  if (!response.ok) throw new Problem('UNKNOWN');
  return response.json();
}

export function socketUrl() {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
}
