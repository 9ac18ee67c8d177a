// #/admin/sessions — the sessions open now (admin only), each revocable; the caller's own is
// marked (revoking it logs the caller out).

import { admin, seg } from '../../api.js';
import { h, replace, table } from '../../dom.js';
import { ago, time } from '../../format.js';
import { loadingNote, section } from '../../page.js';
import { adminError, adminPage, clearForbidden } from './session.js';

function expiry(session) {
  // The node does not say when a session expires (its idle and absolute limits are node
  // configuration the API does not expose); show it if a later node sends it.
  if (Number.isFinite(session.expires_ms)) return time(session.expires_ms);
  return h('span', { class: 'muted', title: 'The node does not report this' }, 'not reported');
}

export default async function sessions(ctx) {
  const page = await adminPage(ctx, 'Sessions');
  if (!page) return;
  const { me, content } = page;
  const mine = me.session && me.session.id;
  const message = h('div', { id: 'sessions-message', 'aria-live': 'polite' });
  const list = table({
    id: 'sessions',
    caption: 'Sessions open now',
    head: ['User', 'Session', 'Address', 'Logged in', 'Last seen', 'Expires', 'Action'],
  });
  const holder = h('div', {}, loadingNote());
  const refresh = h('button', { type: 'button', id: 'sessions-refresh', class: 'secondary' }, 'Refresh');

  function row(s) {
    const id = String(s.id);
    const own = id === mine;
    const revoke = h('button', { type: 'button', class: own ? 'revoke danger small' : 'revoke small' }, own ? 'Revoke (logs you out)' : 'Revoke');
    revoke.addEventListener('click', async () => {
      revoke.disabled = true;
      clearForbidden();
      try {
        await admin.del(`/v1/admin/sessions/${seg(id)}`, { signal: ctx.signal });
        replace(message, h('p', { role: 'status', class: 'form-ok' }, `Revoked session ${id} of ${s.user}.`));
        await load();
      } catch (e) {
        revoke.disabled = false;
        adminError(ctx, e);
      }
    });
    return h('tr', { dataset: { session: id, own: own ? 'true' : undefined }, class: own ? 'own' : null },
      h('th', { scope: 'row' }, String(s.user), own ? h('span', { class: 'badge' }, 'this session') : null),
      h('td', {}, h('code', {}, id)),
      h('td', {}, h('code', {}, String(s.address))),
      h('td', {}, time(s.created_ms)),
      h('td', {}, time(s.last_seen_ms), h('span', { class: 'muted small' }, ` (${ago(s.last_seen_ms)})`)),
      h('td', {}, expiry(s)),
      h('td', {}, revoke));
  }

  async function load() {
    refresh.disabled = true;
    try {
      const data = await admin.get('/v1/admin/sessions', { signal: ctx.signal });
      const all = Array.isArray(data.sessions) ? data.sessions : [];
      replace(list.body, all.map(row));
      replace(holder, list.wrap);
    } catch (e) {
      replace(holder);
      adminError(ctx, e);
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', load);
  replace(content, message,
    section('Open sessions', {},
      h('p', { class: 'muted' }, 'A session ends after a while unused, some hours after its login, at logout, or when revoked here. Last-seen times are updated at most every few minutes.'),
      h('div', { class: 'toolbar' }, refresh),
      holder));
  await load();
}
