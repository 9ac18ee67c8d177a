// #/validators — the validator set in rank order and the current leader, refreshed as heads
// commit (at most every few seconds).

import { get } from '../api.js';
import { facts, h, link, replace, table } from '../dom.js';
import { focusWithin, heading, loadingNote, section } from '../page.js';

const REFRESH_MS = 3000;

function row(validator, leader, self) {
  const isLeader = validator.rank === leader;
  return h('tr', { dataset: { rank: validator.rank, leader: isLeader ? 'true' : undefined }, class: isLeader ? 'leader' : null },
    h('th', { scope: 'row', class: 'num' }, String(validator.rank)),
    h('td', {}, link(['account', validator.address], h('code', {}, String(validator.address)), { class: 'hash' })),
    h('td', {}, h('code', { class: 'hash' }, String(validator.public_key))),
    h('td', {},
      isLeader ? h('span', { class: 'badge leader-badge' }, 'leader') : null,
      validator.rank === self ? h('span', { class: 'badge' }, 'this node') : null));
}

export default async function validators(ctx) {
  ctx.title('Validators');
  const summary = h('div', { id: 'validators-summary' }, loadingNote());
  const list = table({
    id: 'validators',
    caption: 'Validators in rank order (the order in which they take over from a failed leader)',
    head: ['Rank', 'Address', 'Public key', 'Role'],
  });
  ctx.main.replaceChildren(heading('Validators'),
    section('Consensus', { 'aria-live': 'polite' }, summary),
    section('Validator set', {}, list.wrap));

  let last = 0;
  let busy = false;
  let shown = null;
  async function load() {
    if (busy || focusWithin(list.wrap)) return;
    busy = true;
    last = Date.now();
    try {
      const data = await get('/v1/validators', { signal: ctx.signal });
      ctx.clearError();
      // Redraw only on a change (a new leader, a new set), so the live region speaks only then.
      const seen = JSON.stringify(data);
      if (seen === shown) return;
      shown = seen;
      const set = Array.isArray(data.validators) ? data.validators : [];
      const leader = data.leader_index ?? null;
      replace(summary, facts([
        ['Engine', h('span', { id: 'validators-engine' }, String(data.engine))],
        ['Validators', String(set.length)],
        ['Leader', h('span', { id: 'validators-leader' }, leader === null ? 'unknown' : `rank ${leader}`)],
        ['This node', data.validator_index === null || data.validator_index === undefined ? 'not a validator' : `validator of rank ${data.validator_index}`],
      ]));
      replace(list.body, set.map((v) => row(v, leader, data.validator_index)));
      ctx.clearError();
    } catch (e) {
      ctx.showError(e);
    } finally {
      busy = false;
    }
  }
  ctx.heads(() => { if (Date.now() - last >= REFRESH_MS) load(); }, load);
  ctx.every(REFRESH_MS * 2, () => { if (Date.now() - last >= REFRESH_MS * 2) load(); });
  await load();
}
