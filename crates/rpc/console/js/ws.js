// One WebSocket to /v1/ws, shared by every page (the node limits connections per address).
// Protocol (crates/rpc/src/ws.rs): the client sends {"id", "subscribe": "heads"} or
// {"id", "subscribe": "transaction", "hash"}; the node answers {"id", "result":
// {"subscription": n}} or {"id", "error"}, then sends {"subscription": n, "event": "head" |
// "transaction", "data"}; a transaction subscription ends after its one event. A subscriber
// that fell behind gets {"event": "lagged"} and continues from the newest head.
//
// The socket opens with the first subscription and closes a while after the last one ends.
// When it drops it reconnects with exponential backoff and subscribes again; heads
// subscribers are then told to resync, since blocks may have been missed meanwhile.

const IDLE_CLOSE_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

class ChainSocket {
  constructor() {
    this.ws = null;
    this.nextRequest = 1;
    this.nextLocal = 1;
    this.subs = new Map(); // local id → {kind, hash, onEvent, onResync, onError, server}
    this.requests = new Map(); // request id → local id
    this.byServer = new Map(); // server subscription id → local id
    this.backoff = 1000;
    this.retryTimer = null;
    this.idleTimer = null;
    this.opened = false; // whether a connection was ever open (a reopen means a gap)
    this.state = 'idle';
    this.stateListeners = new Set();
  }

  /** Calls `listener(state)` on each change: idle, connecting, open, retrying. */
  onState(listener) {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.stateListeners.forEach((listener) => listener(state));
  }

  /**
   * Subscribes; returns the function that unsubscribes. `kind` is 'heads' or 'transaction'
   * (with `hash`); `onEvent(data)` gets each notification, `onResync()` is called after a
   * reconnect or a lag, `onError(error)` if the node refuses the subscription.
   */
  subscribe(kind, { hash, onEvent, onResync, onError } = {}) {
    const local = this.nextLocal++;
    this.subs.set(local, { kind, hash, onEvent, onResync, onError, server: null });
    clearTimeout(this.idleTimer);
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.request(local);
    else this.connect();
    return () => this.unsubscribe(local);
  }

  unsubscribe(local) {
    const sub = this.subs.get(local);
    if (!sub) return;
    this.subs.delete(local);
    if (sub.server !== null) {
      this.byServer.delete(sub.server);
      this.send({ id: this.nextRequest++, unsubscribe: sub.server });
    }
    if (this.subs.size === 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.close(), IDLE_CLOSE_MS);
    }
  }

  connect() {
    if (this.ws || this.retryTimer) return;
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    let ws;
    try {
      ws = new WebSocket(`${scheme}${location.host}/v1/ws`);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    this.setState('connecting');
    ws.addEventListener('open', () => {
      const gap = this.opened;
      this.opened = true;
      this.backoff = 1000;
      this.setState('open');
      for (const local of this.subs.keys()) this.request(local);
      if (gap) this.resync();
    });
    ws.addEventListener('message', (event) => this.receive(event.data));
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.requests.clear();
      this.byServer.clear();
      for (const sub of this.subs.values()) sub.server = null;
      if (this.subs.size > 0) this.retry();
      else this.setState('idle');
    });
  }

  retry() {
    this.setState('retrying');
    const delay = this.backoff * (0.75 + Math.random() / 2);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.subs.size > 0) this.connect();
      else this.setState('idle');
    }, delay);
  }

  close() {
    if (this.subs.size > 0) return;
    const ws = this.ws;
    this.ws = null;
    this.opened = false; // closed on purpose: the next connection starts afresh, no gap
    if (ws) ws.close(1000, 'no subscriptions');
    this.setState('idle');
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  request(local) {
    const sub = this.subs.get(local);
    if (!sub) return;
    const id = this.nextRequest++;
    this.requests.set(id, local);
    const message = { id, subscribe: sub.kind };
    if (sub.kind === 'transaction') message.hash = sub.hash;
    this.send(message);
  }

  resync() {
    for (const sub of this.subs.values()) if (sub.onResync) sub.onResync();
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!message || typeof message !== 'object') return;
    if (message.event === 'lagged') {
      this.resync();
      return;
    }
    if (message.id !== undefined && message.id !== null && this.requests.has(message.id)) {
      const local = this.requests.get(message.id);
      this.requests.delete(message.id);
      const sub = this.subs.get(local);
      if (!sub) {
        // Unsubscribed while the request was in flight: end it on the node too.
        const server = message.result && message.result.subscription;
        if (server !== undefined && server !== null) this.send({ id: this.nextRequest++, unsubscribe: server });
        return;
      }
      if (message.error) {
        this.subs.delete(local);
        if (sub.onError) sub.onError(message.error);
      } else if (message.result && message.result.subscription !== undefined) {
        sub.server = message.result.subscription;
        this.byServer.set(sub.server, local);
      }
      return;
    }
    if (message.subscription === undefined) return;
    const local = this.byServer.get(message.subscription);
    const sub = this.subs.get(local);
    if (!sub) return;
    if (message.event === 'transaction') {
      // The node ends a transaction subscription after its one event.
      this.subs.delete(local);
      this.byServer.delete(message.subscription);
    }
    if (sub.onEvent) {
      try {
        sub.onEvent(message.data);
      } catch (e) {
        console.error('a subscriber failed', e);
      }
    }
  }
}

export const chainSocket = new ChainSocket();

/** Every committed head: `onHead(header)`; `onResync()` after blocks may have been missed. */
export function subscribeHeads(onHead, onResync) {
  return chainSocket.subscribe('heads', { onEvent: onHead, onResync });
}

/** The result of transaction `hash` once committed (at once if it already is). */
export function subscribeTransaction(hash, onResult, onError) {
  return chainSocket.subscribe('transaction', { hash, onEvent: onResult, onError });
}
