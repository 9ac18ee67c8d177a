// #/tx/{hash} — a transaction, its status and receipt, followed live until it is in a block.

import { ApiError, get, seg } from '../api.js';
import { copyButton, facts, h, link, replace } from '../dom.js';
import { short } from '../format.js';
import { isHash } from '../hex.js';
import { heading, section } from '../page.js';

const STATUS_TEXT = {
  pending: 'In the pool, waiting for a block.',
  committed: 'In a committed block; it took effect.',
  failed: 'In a committed block, but it failed: it had no effect besides using its nonce.',
  unknown: 'This node does not know this transaction: it never saw it, or it left the pool without being included.',
};

function statusBadge(status) {
  return h('span', { id: 'tx-status', class: 'status', dataset: { status } }, status);
}

function acsFacts(acs) {
  const fields = acs.fields && typeof acs.fields === 'object'
    ? h('ul', { class: 'plain' }, Object.entries(acs.fields).map(([name, value]) => h('li', {}, h('code', {}, name), ' = ', h('code', {}, String(value)))))
    : undefined;
  return section('Contract action', { id: 'tx-acs' },
    facts([
      ['Action', h('span', { id: 'tx-acs-action' }, String(acs.action))],
      ['Package', link(['acs', acs.package], h('code', {}, String(acs.package)), { class: 'hash' })],
      ['Contract', acs.contract !== undefined ? h('code', {}, String(acs.contract)) : undefined],
      ['Record', acs.record !== undefined ? link(['account', acs.record], h('code', {}, String(acs.record)), { class: 'hash' }) : undefined],
      ['Fields set', fields],
      ['Source size', acs.source_bytes !== undefined ? `${acs.source_bytes} bytes` : undefined],
      ['Gas limit', String(acs.gas_limit)],
    ]));
}

function receiptSection(receipt) {
  if (!receipt || typeof receipt !== 'object') {
    return section('Receipt', { id: 'receipt' },
      h('p', {}, 'Status: ', h('span', { id: 'receipt-status', class: 'status', dataset: { status: 'none' } }, 'none yet')),
      h('p', { class: 'muted' }, 'A transaction has a receipt once it is in a block.'));
  }
  return section('Receipt', { id: 'receipt' },
    facts([
      ['Status', h('span', { id: 'receipt-status', class: 'status', dataset: { status: String(receipt.status) } }, String(receipt.status))],
      ['Reason', receipt.reason !== undefined ? h('span', { id: 'receipt-reason' }, String(receipt.reason)) : undefined],
      ['Error', receipt.error !== undefined ? h('span', { id: 'receipt-error' }, String(receipt.error)) : undefined],
      ['Gas used', receipt.gas_used !== undefined ? h('span', { id: 'receipt-gas' }, String(receipt.gas_used)) : undefined],
      ['Returned', receipt.return !== undefined ? h('code', { id: 'receipt-return' }, String(receipt.return)) : undefined],
    ]),
    h('p', { class: 'muted small' }, 'Cairn receipts carry no logs.'));
}

function details(response, hash) {
  const tx = response.transaction && typeof response.transaction === 'object' ? response.transaction : null;
  const isAcs = Boolean(tx && tx.acs);
  const to = !tx ? h('span', { id: 'tx-to' }, '—')
    : isAcs ? link(['acs', tx.to], h('code', {}, String(tx.to)), { id: 'tx-to', class: 'hash' })
      : link(['account', tx.to], h('code', {}, String(tx.to)), { id: 'tx-to', class: 'hash' });
  const block = response.block !== undefined && response.block !== null
    ? link(['block', response.block], String(response.block), { id: 'tx-block' })
    : h('span', { id: 'tx-block' }, '— (not in a block)');
  return [
    section('Status', { id: 'tx-status-section' },
      h('p', { class: 'status-line' }, statusBadge(String(response.status)), ' ', h('span', { class: 'muted' }, STATUS_TEXT[response.status] || '')),
      response.status === 'pending' ? h('p', { class: 'muted small' }, 'Following it live: this page updates when it is included.') : null),
    section('Transaction', {},
      facts([
        ['Hash', [h('code', { id: 'tx-hash', class: 'hash' }, String(response.hash || hash)), ' ', copyButton(String(response.hash || hash), 'Copy hash')]],
        ['Block', block],
        ['Position in block', response.index !== undefined ? String(response.index) : undefined],
        ['From', tx ? link(['account', tx.from], h('code', {}, String(tx.from)), { id: 'tx-from', class: 'hash' }) : h('span', { id: 'tx-from' }, '—')],
        [isAcs ? 'Package' : 'To', to],
        ['Amount (base units)', h('span', { id: 'tx-amount', class: 'num' }, tx ? String(tx.amount) : '—')],
        ['Nonce', h('span', { id: 'tx-nonce' }, tx ? String(tx.nonce) : '—')],
        ['Chain id', tx ? String(tx.chain_id) : undefined],
        ['Public key', tx ? h('code', { class: 'hash' }, String(tx.public_key)) : undefined],
        ['Signature', tx ? h('code', { class: 'hash' }, String(tx.signature)) : undefined],
      ])),
    isAcs ? acsFacts(tx.acs) : null,
    receiptSection(response.receipt),
  ];
}

export default async function txPage(ctx) {
  const raw = ctx.params[0];
  ctx.title('Transaction');
  if (!isHash(raw)) {
    ctx.main.replaceChildren(heading('Transaction'));
    ctx.showError(new Error(`"${raw}" is not a transaction hash (0x and 64 hex digits).`));
    return;
  }
  const hash = raw.toLowerCase();
  ctx.title(`Transaction ${short(hash)}`);
  const body = h('div', { id: 'tx-details' });
  // The details are redrawn on each change; this region, always present, says what changed.
  const announce = h('p', { class: 'visually-hidden', 'aria-live': 'polite', id: 'tx-announce' });
  ctx.main.replaceChildren(heading('Transaction ', h('code', { class: 'title-hash' }, short(hash))), announce, body);

  let shownStatus = null;
  const show = (response) => {
    replace(body, details(response, hash));
    if (shownStatus !== null && response.status !== shownStatus) announce.textContent = `The transaction is now ${response.status}.`;
    shownStatus = response.status;
  };
  let response;
  try {
    response = await get(`/v1/transactions/${seg(hash)}`, { signal: ctx.signal });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    response = { hash, status: 'unknown' };
  }
  show(response);
  if (response.status === 'pending' || response.status === 'unknown') {
    // An unknown transaction may still arrive (it may be on its way from a peer): the
    // subscription reports it if it is ever committed.
    ctx.follow(hash, {
      onUpdate: (next) => {
        ctx.clearError();
        show(next);
      },
      onError: (e) => ctx.showError(e),
    });
  }
}
