// #/network — this node's sync status, peers and peer-to-peer counters (GET /v1/status).

import { get } from '../api.js';
import { facts, h, replace, table } from '../dom.js';
import { ago, short, time, yesNo } from '../format.js';
import { focusWithin, heading, loadingNote, section } from '../page.js';

const REFRESH_MS = 3000;

function syncText(sync) {
  if (!sync || typeof sync !== 'object') return 'unknown';
  if (!sync.syncing) return 'in sync';
  return `catching up: block ${sync.current} of ${sync.highest} (from ${sync.starting})`;
}

export default async function network(ctx) {
  ctx.title('Network');
  const body = h('div', { id: 'network-details' }, loadingNote());
  ctx.main.replaceChildren(heading('Network'), body);

  async function load() {
    if (focusWithin(body)) return;
    try {
      const s = await get('/v1/status', { signal: ctx.signal });
      const net = s.network && typeof s.network === 'object' ? s.network : null;
      const offenders = net && Array.isArray(net.offenders) ? net.offenders : [];
      const offenderTable = table({
        id: 'offenders',
        caption: 'Peers that misbehaved',
        head: ['Peer', 'Offences', 'Times blocked', 'Last offence'],
        rows: offenders.map((o) => h('tr', {},
          h('th', { scope: 'row' }, h('code', { title: String(o.peer) }, short(o.peer))),
          h('td', { class: 'num' }, String(o.offences)),
          h('td', { class: 'num' }, String(o.blocked)),
          h('td', {}, String(o.last)))),
      });
      replace(body,
        section('This node', { 'aria-live': 'polite' }, facts([
          ['Sync', h('span', { id: 'network-sync', dataset: { syncing: String(Boolean(s.sync && s.sync.syncing)) } }, syncText(s.sync))],
          ['Connected peers', h('span', { id: 'network-peers' }, String(s.peers))],
          ['Head', h('span', { id: 'network-height' }, `block ${s.height}`)],
          ['Head time', [time(s.head_timestamp_ms), h('span', { class: 'muted' }, ` (${ago(s.head_timestamp_ms)})`)]],
          ['Consensus engine', String(s.engine)],
          ['Validator', s.validator_index === null || s.validator_index === undefined ? 'no (a full node)' : `yes, rank ${s.validator_index}`],
          ['Leader', s.leader_index === null || s.leader_index === undefined ? 'unknown' : `rank ${s.leader_index}`],
          ['Pool', `${s.pool?.pending ?? 0} pending, ${s.pool?.ready ?? 0} ready`],
          ['Chain id', String(s.chain_id)],
          ['Genesis', h('code', { class: 'hash' }, String(s.genesis_hash))],
          ['Version', String(s.version)],
        ])),
        section('Peer-to-peer counters', { id: 'network-counters' }, net ? [
          facts([
            ['Dropped messages', String(net.dropped_messages)],
            ['Invalid blocks', String(net.invalid_blocks)],
            ['Consensus faults', String(net.consensus_faults)],
            ['Unsolicited blocks', String(net.unsolicited_blocks ?? 0)],
            ['Forgeries', String(net.forgeries ?? 0)],
            ['Peers blocked', String(net.peers_blocked ?? 0)],
          ]),
          offenders.length ? offenderTable.wrap : h('p', { class: 'muted' }, 'No peer has misbehaved.'),
        ] : h('p', { class: 'muted' }, 'This node has no peer-to-peer network (a single-validator chain), so there are no counters.')),
        h('p', { class: 'muted small' }, `Refreshed every ${REFRESH_MS / 1000} s. Connected: ${yesNo(s.peers > 0)}.`));
      ctx.clearError();
    } catch (e) {
      ctx.showError(e);
    }
  }
  ctx.every(REFRESH_MS, load);
  await load();
}
