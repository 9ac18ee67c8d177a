// #/admin/audit — logins, logouts, expiries, revocations, failed logins and user changes,
// newest first, with new ones arriving live over the admin event feed (WebSocket
// /v1/admin/events, which the browser opens with the session cookie).

import { admin } from '../../api.js';
import { h, replace } from '../../dom.js';
import { time } from '../../format.js';
import { loadingNote, section } from '../../page.js';
import { adminError, adminPage } from './session.js';

const LIMIT = 200;
/// Most events the page keeps (the oldest leave first).
const KEEP = 2 * LIMIT;
/// A feed that stayed open this long is reopened on its own when it drops.
const STABLE_MS = 10_000;
/// Reopenings in a row of a feed that keeps dropping at once, before the page stops trying.
const MAX_QUICK_RETRIES = 3;

function describeEvent(e) {
  const str = (v) => String(v ?? '?');
  switch (e.event) {
    case 'login': return `${str(e.user)} logged in from ${str(e.address)} (session ${str(e.session)})`;
    case 'logout': return `${str(e.user)} logged out (session ${str(e.session)})`;
    case 'expired': return `session ${str(e.session)} of ${str(e.user)} expired`;
    case 'revoked': return `session ${str(e.session)} of ${str(e.user)} was revoked: ${str(e.reason)}`;
    case 'user_changed': return `user ${str(e.user)}: ${str(e.change)} (by ${str(e.by)})`;
    case 'failed_login': return `failed login as ${str(e.user)} from ${str(e.address)}: ${str(e.reason)}`;
    default: return JSON.stringify(e);
  }
}

function item(e) {
  const kind = typeof e.event === 'string' ? e.event : 'event';
  return h('li', { dataset: { event: kind } },
    time(e.at_ms), ' ',
    h('span', { class: `badge event-${kind.replace(/[^a-z_]/g, '')}` }, kind.replace(/_/g, ' ')), ' ',
    h('span', { class: 'event-text' }, describeEvent(e)));
}

export default async function audit(ctx) {
  const page = await adminPage(ctx, 'Audit');
  if (!page) return;
  const { content } = page;
  const live = h('p', { id: 'audit-live', class: 'live-status', role: 'status', dataset: { state: 'connecting' } }, 'Live feed: connecting…');
  const list = h('ol', { id: 'audit', class: 'events', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const holder = h('div', {}, loadingNote());
  replace(content, section('Session events', {},
    h('p', { class: 'muted' }, `The latest ${LIMIT} events, newest first; new ones appear as they happen.`),
    live, holder));

  const setLive = (state, text) => {
    live.dataset.state = state;
    live.textContent = text;
  };

  // The feed opens first and its events wait until the list is read, so none fall between.
  let buffered = [];
  let listed = false;
  let socket = null;
  let quickRetries = 0;
  let closedForGood = false;
  const seen = new Set();
  const add = (e) => {
    const key = JSON.stringify(e);
    if (seen.has(key)) return;
    seen.add(key);
    list.prepend(item(e));
    // Bounded: a flood of events must not grow the page without end.
    while (list.children.length > KEEP) list.lastElementChild.remove();
    if (seen.size > 4 * KEEP) seen.clear();
  };
  const reconnect = h('button', { type: 'button', id: 'audit-reconnect', class: 'secondary', hidden: true }, 'Reconnect');
  reconnect.addEventListener('click', () => {
    reconnect.hidden = true;
    quickRetries = 0;
    connect();
  });
  live.after(reconnect);

  function connect() {
    if (!ctx.alive() || closedForGood) return;
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const ws = new WebSocket(`${scheme}${location.host}/v1/admin/events`);
    socket = ws;
    let openedAt = 0;
    setLive('connecting', 'Live feed: connecting…');
    ws.addEventListener('open', () => {
      openedAt = Date.now();
      setLive('connected', 'Live feed: connected');
    });
    ws.addEventListener('message', (event) => {
      let e;
      try {
        e = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!e || typeof e !== 'object') return;
      if (e.event === 'lagged') {
        setLive('connected', `Live feed: connected (${Number(e.missed) || 'some'} event(s) missed; refresh to see them)`);
        return;
      }
      if (listed) add(e);
      else buffered.push(e);
    });
    ws.addEventListener('close', async (event) => {
      if (socket !== ws || !ctx.alive()) return;
      socket = null;
      setLive('disconnected', 'Live feed: disconnected');
      // The node closes the feed with 1008 when the session ends: one check, and the 401
      // hook sends the page to the login.
      if (event.code === 1008) {
        try {
          await admin.get('/v1/admin/me', { signal: ctx.signal });
        } catch (err) {
          if (err.handled || !ctx.alive()) return;
        }
      }
      // Each opening of the feed counts as use of the session: a feed that cannot stay open
      // is not retried for ever, or an unattended page would keep its session alive.
      const stable = openedAt && Date.now() - openedAt >= STABLE_MS;
      quickRetries = stable ? 0 : quickRetries + 1;
      if (quickRetries > MAX_QUICK_RETRIES) {
        setLive('disconnected', 'Live feed: disconnected (it keeps failing; reload, or reconnect when ready)');
        reconnect.hidden = false;
        return;
      }
      const delay = 1000 * 2 ** quickRetries;
      setLive('disconnected', `Live feed: disconnected; reconnecting in ${Math.round(delay / 1000)} s`);
      ctx.later(delay, connect);
    });
  }
  ctx.onCleanup(() => {
    closedForGood = true;
    if (socket) socket.close(1000, 'page left');
  });

  connect();
  try {
    const data = await admin.get(`/v1/admin/audit?limit=${LIMIT}`, { signal: ctx.signal });
    const events = Array.isArray(data.events) ? data.events : [];
    // The API lists newest first; add oldest first so each prepend keeps that order.
    for (const e of events.slice().reverse()) add(e);
    listed = true;
    buffered.forEach(add);
    buffered = [];
    replace(holder, list);
    if (!events.length) holder.prepend(h('p', { class: 'muted' }, 'No events yet.'));
  } catch (e) {
    replace(holder);
    closedForGood = true;
    if (socket) socket.close(1000, 'no access');
    setLive('disconnected', 'Live feed: not connected');
    adminError(ctx, e);
  }
}
