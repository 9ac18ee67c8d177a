// Following a transaction until it is in a block: the WebSocket tells the moment it commits,
// and a poll of GET /v1/transactions/{hash} covers the rest (the socket being down, the
// transaction leaving the pool unincluded). Polls every second while the socket is not open,
// every few seconds while it is.

import { get, seg } from './api.js';
import { chainSocket, subscribeTransaction } from './ws.js';

export const FINAL = new Set(['committed', 'failed']);

/**
 * Calls `onUpdate(response)` with each new state of transaction `hash` (the shape of
 * GET /v1/transactions/{hash}), and `onError(error)` when a lookup fails. Stops by itself once
 * the transaction is committed or failed; returns a function that stops it sooner.
 */
export function followTransaction(hash, { onUpdate, onError, signal } = {}) {
  let done = false;
  let timer = null;
  let last = null;
  let unsubscribe = () => {};

  const stop = () => {
    done = true;
    clearTimeout(timer);
    unsubscribe();
  };
  const update = (response) => {
    if (done || !response) return;
    const key = JSON.stringify(response);
    if (key !== last) {
      last = key;
      onUpdate(response);
    }
    if (FINAL.has(response.status)) stop();
  };
  const poll = async () => {
    if (done) return;
    try {
      update(await get(`/v1/transactions/${seg(hash)}`, { signal }));
    } catch (e) {
      if (!done && !(signal && signal.aborted) && onError) onError(e);
    }
    if (!done) timer = setTimeout(poll, chainSocket.state === 'open' ? 4000 : 1000);
  };

  unsubscribe = subscribeTransaction(hash, update, () => {});
  if (signal) signal.addEventListener('abort', stop, { once: true });
  poll();
  return stop;
}
