// #/admin/pool — the transaction pool: counts, the busiest senders, and one sender's queue.

import { admin, describe, seg } from '../../api.js';
import { facts, h, link, replace, table } from '../../dom.js';
import { duration, short, yesNo } from '../../format.js';
import { isAddress } from '../../hex.js';
import { loadingNote, section } from '../../page.js';
import { adminError, adminPage } from './session.js';

export default async function pool(ctx) {
  const page = await adminPage(ctx, 'Pool');
  if (!page) return;
  const { content } = page;
  const pending = h('span', { id: 'pool-pending' }, '…');
  const ready = h('span', { id: 'pool-ready' }, '…');
  const senders = h('span', { id: 'pool-senders' }, '…');
  const refresh = h('button', { type: 'button', id: 'pool-refresh', class: 'secondary' }, 'Refresh');
  const busiest = table({ id: 'pool-busiest', caption: 'The senders holding the most transactions', head: ['Sender', 'Transactions'] });
  const busiestHolder = h('div', {}, loadingNote());

  const sender = h('input', { id: 'pool-sender', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '0x…', class: 'wide' });
  const lookup = h('button', { type: 'submit', id: 'pool-lookup' }, 'Show queue');
  const queue = h('div', { id: 'pool-queue', 'aria-live': 'polite' });
  const form = h('form', { class: 'inline-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'pool-sender' }, 'Sender address'), sender), lookup);

  async function showQueue(address) {
    replace(queue, loadingNote());
    try {
      const q = await admin.get(`/v1/admin/pool/${seg(address)}`, { signal: ctx.signal });
      const items = Array.isArray(q.queue) ? q.queue : [];
      const t = table({
        id: 'pool-queue-table',
        caption: `Queued transactions of ${q.address}, in nonce order`,
        head: ['Nonce', 'Hash', 'Ready for the next block', 'Waiting'],
        rows: items.map((t) => h('tr', { dataset: { nonce: t.nonce } },
          h('th', { scope: 'row', class: 'num' }, String(t.nonce)),
          h('td', {}, link(['tx', t.hash], h('code', {}, short(t.hash)), { title: String(t.hash) })),
          h('td', {}, yesNo(t.ready)),
          h('td', {}, duration(Number(t.waiting_ms) / 1000)))),
      });
      replace(queue,
        facts([['Sender', link(['account', q.address], h('code', {}, String(q.address)), { class: 'hash' })], ['Account nonce', String(q.account_nonce)], ['Queued', String(items.length)]]),
        items.length ? t.wrap : h('p', { class: 'muted' }, 'Nothing queued for this sender.'));
    } catch (e) {
      if (e.handled || !ctx.alive()) return;
      if (e.status === 403) {
        replace(queue);
        adminError(ctx, e);
      } else {
        replace(queue, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
      }
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const address = sender.value.trim();
    if (!isAddress(address)) {
      sender.setAttribute('aria-invalid', 'true');
      replace(queue, h('p', { class: 'form-error', role: 'alert' }, 'A sender is an address: 0x and 40 hex digits.'));
      return;
    }
    sender.removeAttribute('aria-invalid');
    showQueue(address.toLowerCase());
  });

  async function load() {
    refresh.disabled = true;
    try {
      const p = await admin.get('/v1/admin/pool', { signal: ctx.signal });
      pending.textContent = String(p.pending);
      ready.textContent = String(p.ready);
      senders.textContent = String(p.senders);
      const list = Array.isArray(p.busiest) ? p.busiest : [];
      replace(busiest.body, list.map((b) => {
        const show = h('button', { type: 'button', class: 'secondary small' }, 'Show queue');
        show.addEventListener('click', () => {
          sender.value = String(b.address);
          showQueue(String(b.address).toLowerCase());
        });
        return h('tr', {},
          h('th', { scope: 'row' }, h('code', { class: 'hash' }, String(b.address)), ' ', show),
          h('td', { class: 'num' }, String(b.count)));
      }));
      replace(busiestHolder, list.length ? busiest.wrap : h('p', { class: 'muted' }, 'The pool is empty.'));
      ctx.clearError();
    } catch (e) {
      adminError(ctx, e);
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', load);
  replace(content,
    section('Counts', { 'aria-live': 'polite' },
      facts([['Transactions held', pending], ['Executable now', ready], ['Senders', senders]]),
      h('div', { class: 'toolbar' }, refresh)),
    section('Busiest senders', {}, busiestHolder),
    section("A sender's queue", {}, form, queue));
  await load();
}
