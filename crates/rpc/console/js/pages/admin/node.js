// #/admin — the node: status, version, uptime, process, peers, and a graceful stop.
//
// The page does not poll the admin API on a timer: every admin call counts as use of the
// session, and a console left open must not keep a session alive forever. The height is
// live through the public head subscription; the rest refreshes on demand.

import { admin } from '../../api.js';
import { facts, h, replace, table } from '../../dom.js';
import { ago, duration, short, time, yesNo } from '../../format.js';
import { loadingNote, section } from '../../page.js';
import { adminError, adminPage, clearForbidden, roleAllows } from './session.js';

function peersTable(peers) {
  return table({
    id: 'peers',
    caption: 'Configured peers',
    head: ['Name', 'Public key', 'Address', 'Validator rank', 'Last heard', 'Connected'],
    rows: peers.map((p) => h('tr', { dataset: { live: String(Boolean(p.live)) } },
      h('th', { scope: 'row' }, String(p.name || '—')),
      h('td', {}, h('code', { title: String(p.public_key) }, short(p.public_key))),
      h('td', {}, h('code', {}, String(p.address))),
      h('td', { class: 'num' }, p.validator_rank === null || p.validator_rank === undefined ? '—' : String(p.validator_rank)),
      h('td', {}, p.last_heard_ms_ago === null || p.last_heard_ms_ago === undefined ? 'never' : `${duration(p.last_heard_ms_ago / 1000)} ago`),
      h('td', {}, h('span', { class: p.live ? 'status ok' : 'status bad' }, yesNo(p.live))))),
  });
}

function stopSection(ctx, me, node) {
  const status = h('div', { id: 'node-stop-status', 'aria-live': 'polite' });
  const stop = h('button', { type: 'button', id: 'node-stop', class: 'danger', disabled: !node.can_stop }, 'Stop the node…');
  const confirm = h('button', { type: 'button', id: 'node-stop-confirm', class: 'danger' }, 'Yes, stop the node');
  const cancel = h('button', { type: 'button', id: 'node-stop-cancel', class: 'secondary' }, 'Cancel');
  const panel = h('div', { id: 'node-stop-panel', class: 'confirm', hidden: true, role: 'group', 'aria-labelledby': 'node-stop-question' },
    h('p', { id: 'node-stop-question' }, 'Stop this node? It finishes the block it is committing, keeps its pool for the next start, and exits. Starting it again needs access to its machine.'),
    confirm, cancel);
  stop.addEventListener('click', () => {
    panel.hidden = false;
    stop.disabled = true;
    cancel.focus();
  });
  cancel.addEventListener('click', () => {
    panel.hidden = true;
    stop.disabled = false;
    stop.focus();
  });
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    clearForbidden();
    try {
      await admin.post('/v1/admin/stop', { signal: ctx.signal });
      panel.hidden = true;
      replace(status, h('p', { class: 'note', role: 'status' }, 'The node is stopping: it finishes the block it is committing, keeps its pool, and exits. This console will lose its connection to it.'));
    } catch (e) {
      panel.hidden = true;
      stop.disabled = !node.can_stop;
      adminError(ctx, e);
    } finally {
      confirm.disabled = false;
    }
  });
  const notes = [];
  if (!node.can_stop) notes.push(h('p', { class: 'muted' }, 'This process cannot be stopped through its API.'));
  if (!roleAllows(me, 'operator')) notes.push(h('p', { class: 'muted' }, 'Stopping the node needs the operator role; the node will refuse it for you.'));
  return section('Stop', { id: 'node-stop-section' }, notes, h('div', { class: 'actions' }, stop), panel, status);
}

export default async function nodePage(ctx) {
  const page = await adminPage(ctx, 'Node');
  if (!page) return;
  const { me, content } = page;
  const height = h('span', { id: 'node-height' }, '…');
  const uptime = h('span', { id: 'node-uptime' }, '…');
  const details = h('div', { id: 'node-details' }, loadingNote());
  const peers = h('div', { id: 'node-peers' }, loadingNote());
  const refresh = h('button', { type: 'button', id: 'node-refresh', class: 'secondary' }, 'Refresh');
  const stopHolder = h('div');
  replace(content,
    h('div', { class: 'toolbar' }, refresh),
    section('Status', {}, details),
    section('Peers', {}, peers),
    stopHolder);

  let uptimeBase = null; // [uptime_s, when it was read]
  ctx.every(1000, () => {
    if (uptimeBase) uptime.textContent = duration(uptimeBase[0] + (Date.now() - uptimeBase[1]) / 1000);
  });
  ctx.heads((head) => {
    if (typeof head.height === 'number') height.textContent = String(head.height);
  });

  async function load() {
    refresh.disabled = true;
    try {
      const [node, peerView] = await Promise.all([
        admin.get('/v1/admin/node', { signal: ctx.signal }),
        admin.get('/v1/admin/peers', { signal: ctx.signal }),
      ]);
      const s = node.status || {};
      height.textContent = String(s.height);
      uptimeBase = [Number(node.uptime_s) || 0, Date.now()];
      uptime.textContent = duration(node.uptime_s);
      replace(details, facts([
        ['Height', height],
        ['Head', h('code', { class: 'hash' }, String(s.head))],
        ['Head time', [time(s.head_timestamp_ms), h('span', { class: 'muted' }, ` (${ago(s.head_timestamp_ms)})`)]],
        ['Version', h('span', { id: 'node-version' }, String(node.version))],
        ['Uptime', uptime],
        ['Started', time(node.started_ms)],
        ['Process id', h('span', { id: 'node-pid' }, String(node.pid))],
        ['Chain id', String(s.chain_id)],
        ['Engine', `${s.engine}${s.validator_index === null || s.validator_index === undefined ? ', full node' : `, validator of rank ${s.validator_index}`}`],
        ['Sync', s.sync && s.sync.syncing ? `catching up: ${s.sync.current} of ${s.sync.highest}` : 'in sync'],
        ['Pool', `${s.pool?.pending ?? 0} pending, ${s.pool?.ready ?? 0} ready`],
        ['Admin API', node.admin_remote ? 'served to other machines too' : 'served to this machine only (loopback)'],
      ]));
      const list = Array.isArray(peerView.peers) ? peerView.peers : [];
      const t = peersTable(list);
      replace(peers,
        h('p', {}, `${peerView.live ?? 0} connected now; ${list.length} configured.`),
        list.length ? null : h('p', { class: 'muted' }, 'No peers are configured (a single-node chain).'),
        t.wrap,
        peerView.network ? h('p', { class: 'muted small' }, 'Misbehaviour counters are on the ', h('a', { href: '#/network' }, 'Network'), ' page.') : null);
      if (!stopHolder.firstChild) stopHolder.append(stopSection(ctx, me, node));
      ctx.clearError();
    } catch (e) {
      adminError(ctx, e);
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', load);
  await load();
}
