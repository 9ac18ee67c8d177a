// #/cluster — the storage cluster's health as this node sees it (GET /v1/cluster).

import { ApiError, get } from '../api.js';
import { facts, h, replace, table } from '../dom.js';
import { short, time, yesNo } from '../format.js';
import { focusWithin, heading, loadingNote, section } from '../page.js';

const REFRESH_MS = 5000;
const NOT_A_MEMBER = 'This node is not a member of a storage cluster.';

function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** A one-line verdict: at risk, degraded or healthy, and why. */
function health(c, members) {
  const offline = members.filter((m) => m.peer && !m.online).length;
  const demoted = members.filter((m) => m.demoted).length;
  if (c.unrecoverable > 0) {
    return ['at-risk', `At risk: ${c.unrecoverable} old block(s) are held by too few online members to be rebuilt.`];
  }
  const issues = [];
  if (c.under_replicated > 0) issues.push(`${c.under_replicated} old block(s) under-replicated`);
  if (offline > 0) issues.push(`${offline} member(s) offline`);
  if (demoted > 0) issues.push(`${demoted} member(s) demoted for faults`);
  if (issues.length) return ['degraded', `Degraded: ${issues.join(', ')}.`];
  return ['healthy', 'Healthy: every old block is fully replicated and every member is online.'];
}

export default async function cluster(ctx) {
  ctx.title('Cluster');
  const status = h('div', { id: 'cluster-status', 'aria-live': 'polite' }, loadingNote());
  const members = h('div', { id: 'cluster-members-section' });
  ctx.main.replaceChildren(heading('Storage cluster'), section('Health', {}, status), members);

  let last = null;
  let member = true; // a node's cluster membership is fixed by its configuration
  async function load() {
    if (!member || focusWithin(members)) return;
    try {
      const c = await get('/v1/cluster', { signal: ctx.signal });
      ctx.clearError();
      // Redraw only on a change, so the live region speaks only when there is news.
      const seen = JSON.stringify(c);
      if (seen === last) return;
      last = seen;
      const list = Array.isArray(c.members) ? c.members : [];
      const [state, sentence] = health(c, list);
      status.dataset.health = state;
      replace(status,
        h('p', { class: `health ${state}` }, sentence),
        facts([
          ['Cluster id', c.cluster_id ? h('code', { class: 'hash' }, String(c.cluster_id)) : 'none'],
          ['Id expires', c.expires_at ? time(c.expires_at) : '—'],
          ['This node', c.index === null || c.index === undefined ? '—' : `slot ${c.index}`],
          ['Placement', String(c.placement)],
          ['Blocks every node keeps whole', String(c.retain_blocks)],
          ['Under-replicated old blocks', String(c.under_replicated)],
          ['Unrecoverable old blocks', String(c.unrecoverable)],
          ['Repair', `${c.repair?.pending ?? 0} share(s) pending, ${c.repair?.done ?? 0} rebuilt`],
          ['Pruned blocks (bodies held by the cluster)', String(c.pruned_blocks)],
          ['Read cache', c.read_cache ? `${c.read_cache.blocks} block(s), ${bytes(c.read_cache.bytes)} of ${bytes(c.read_cache.limit_bytes)}; ${c.read_cache.hits} hit(s), ${c.read_cache.misses} miss(es)` : '—'],
        ]));
      const t = table({
        id: 'cluster-members',
        caption: 'Members by slot',
        head: ['Slot', 'Peer', 'Online', 'Blocks stored', 'Bytes stored', 'Faults', 'Demoted'],
        rows: list.map((m) => h('tr', { dataset: { slot: m.index, online: String(Boolean(m.online)) } },
          h('th', { scope: 'row', class: 'num' }, String(m.index), m.index === c.index ? h('span', { class: 'badge' }, 'this node') : null),
          h('td', {}, m.peer ? h('code', { title: String(m.peer) }, short(m.peer)) : h('span', { class: 'muted' }, 'vacant')),
          h('td', {}, h('span', { class: m.online ? 'status ok' : 'status bad' }, yesNo(m.online))),
          h('td', { class: 'num' }, String(m.stored_blocks)),
          h('td', { class: 'num' }, bytes(m.stored_bytes)),
          h('td', { class: 'num' }, String(m.faults)),
          h('td', {}, yesNo(m.demoted)))),
      });
      replace(members, section('Members', {}, t.wrap));
      ctx.clearError();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.code === 'cluster_disabled') {
        member = false;
        status.dataset.health = 'disabled';
        replace(status, h('p', {}, NOT_A_MEMBER));
        replace(members);
        ctx.clearError();
        return;
      }
      ctx.showError(e);
    }
  }
  ctx.every(REFRESH_MS, load);
  await load();
}
