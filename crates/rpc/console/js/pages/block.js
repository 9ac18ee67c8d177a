// #/block/{height or hash} — a block's header, seal and transactions.

import { get, seg } from '../api.js';
import { copyButton, facts, h, link, table } from '../dom.js';
import { short, time } from '../format.js';
import { isHash } from '../hex.js';
import { heading, section } from '../page.js';

const ZERO_HASH = `0x${'0'.repeat(64)}`;
const ZERO_ADDRESS = `0x${'0'.repeat(40)}`;
const ROWS_AT_ONCE = 500;

function txRow(tx, index) {
  const acs = tx.acs && typeof tx.acs === 'object' ? tx.acs : null;
  const what = acs
    ? [h('span', { class: 'badge' }, `ACS ${acs.action}`), acs.contract ? ` ${acs.contract}` : '']
    : h('span', { class: 'num' }, String(tx.amount));
  const to = acs ? link(['acs', tx.to], h('code', {}, short(tx.to)), { title: String(tx.to) })
    : link(['account', tx.to], h('code', {}, short(tx.to)), { title: String(tx.to) });
  return h('tr', {},
    h('td', { class: 'num' }, String(index)),
    h('th', { scope: 'row' }, h('a', { href: `#/tx/${encodeURIComponent(tx.hash)}`, dataset: { tx: tx.hash }, title: String(tx.hash) }, h('code', {}, short(tx.hash)))),
    h('td', {}, link(['account', tx.from], h('code', {}, short(tx.from)), { title: String(tx.from) })),
    h('td', {}, to),
    h('td', {}, what));
}

function hashOnlyRow(hash, index) {
  return h('tr', {},
    h('td', { class: 'num' }, String(index)),
    h('th', { scope: 'row' }, h('a', { href: `#/tx/${encodeURIComponent(hash)}`, dataset: { tx: hash } }, h('code', {}, short(hash)))),
    h('td', {}, '—'), h('td', {}, '—'), h('td', {}, '—'));
}

export default async function block(ctx) {
  const id = ctx.params[0];
  const byHeight = /^[0-9]+$/.test(id) && BigInt(id) < 1n << 64n;
  if (!byHeight && !isHash(id)) {
    ctx.title('Block');
    ctx.main.replaceChildren(heading('Block'));
    ctx.showError(new Error(`"${id}" is not a block height (digits) or a block hash (0x and 64 hex digits).`));
    return;
  }
  const label = byHeight ? String(BigInt(id)) : short(id.toLowerCase());
  ctx.title(`Block ${label}`);
  ctx.main.replaceChildren(heading(`Block ${label}`));

  const [blk, status] = await Promise.all([
    get(`/v1/blocks/${seg(byHeight ? BigInt(id) : id.toLowerCase())}?full=true`, { signal: ctx.signal }),
    get('/v1/status', { signal: ctx.signal }).catch(() => null),
  ]);
  if (!ctx.alive()) return;
  const height = Number(blk.height);
  ctx.title(`Block ${height}`);
  ctx.main.querySelector('h1').textContent = `Block ${height}`;

  // Previous / next, the next one enabled live once it exists.
  const next = h('span', { id: 'block-next', class: 'muted' }, 'Next block: not yet committed');
  const showNext = () => next.replaceWith(Object.assign(link(['block', height + 1], `Block ${height + 1} →`), { id: 'block-next', rel: 'next' }));
  if (status && status.height > height) showNext();
  else ctx.heads((head) => { if (head.height > height && document.getElementById('block-next')?.tagName === 'SPAN') showNext(); });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Neighbouring blocks' },
    height > 0 ? Object.assign(link(['block', height - 1], `← Block ${height - 1}`), { id: 'block-prev', rel: 'prev' })
      : h('span', { class: 'muted' }, 'Genesis: no previous block'),
    next);

  const parent = blk.parent_hash === ZERO_HASH || height === 0
    ? h('span', { id: 'block-parent' }, 'none (genesis block)')
    : link(['block', blk.parent_hash], h('code', {}, String(blk.parent_hash)), { id: 'block-parent', class: 'hash' });
  const proposer = blk.proposer === ZERO_ADDRESS
    ? h('span', { id: 'block-proposer' }, 'none (genesis block)')
    : link(['account', blk.proposer], h('code', {}, String(blk.proposer)), { id: 'block-proposer', class: 'hash' });
  const seal = blk.seal && typeof blk.seal === 'object' ? blk.seal : {};
  const sealText = { genesis: 'genesis (no signature)', proposer: "the proposer's signature", certificate: 'a certificate of the validators' }[seal.kind] || String(seal.kind ?? '—');

  const summary = section('Header', {},
    facts([
      ['Height', h('span', { id: 'block-height' }, String(height))],
      ['Hash', [h('code', { id: 'block-hash', class: 'hash' }, String(blk.hash)), ' ', copyButton(String(blk.hash), 'Copy hash')]],
      ['Parent', parent],
      ['Time', h('span', { id: 'block-time' }, time(blk.timestamp_ms))],
      ['Proposer', proposer],
      ['Transactions', h('span', { id: 'block-tx-count' }, String(blk.transaction_count))],
      ['State root', h('code', { id: 'block-state-root', class: 'hash' }, String(blk.state_root))],
      ['Transactions root', h('code', { class: 'hash' }, String(blk.transactions_root))],
      ['Receipts root', h('code', { class: 'hash' }, String(blk.receipts_root))],
      ['Extra data', h('code', { class: 'hash' }, blk.extra && blk.extra !== '0x' ? String(blk.extra) : 'none')],
      ['Sealed by', h('span', { id: 'block-seal' }, sealText)],
      ['Seal data', seal.data ? h('code', { class: 'hash', id: 'block-seal-data' }, String(seal.data)) : undefined],
    ]));

  const txs = table({
    id: 'block-txs',
    caption: `Transactions in block ${height}`,
    head: ['#', 'Hash', 'From', 'To', 'Amount or action'],
  });
  const full = Array.isArray(blk.full_transactions) ? blk.full_transactions : null;
  const hashes = Array.isArray(blk.transactions) ? blk.transactions : [];
  const total = full ? full.length : hashes.length;
  const more = h('button', { type: 'button', id: 'block-txs-more' }, '');
  let shown = 0;
  const showMore = () => {
    const end = Math.min(total, shown + ROWS_AT_ONCE);
    for (let i = shown; i < end; i++) txs.body.append(full ? txRow(full[i], i) : hashOnlyRow(hashes[i], i));
    shown = end;
    more.hidden = shown >= total;
    more.textContent = `Show ${Math.min(ROWS_AT_ONCE, total - shown)} more of ${total - shown}`;
  };
  more.addEventListener('click', showMore);
  showMore();
  const empty = total === 0 ? h('p', { class: 'muted' }, 'This block has no transactions.') : null;
  txs.wrap.hidden = total === 0;

  ctx.main.append(pager, summary, section('Transactions', {}, empty, txs.wrap, more));
}
