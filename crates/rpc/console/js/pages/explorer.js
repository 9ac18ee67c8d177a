// #/ — the chain's head and its latest blocks, updated live as blocks commit.

import { get } from '../api.js';
import { facts, h, link, replace, table } from '../dom.js';
import { short, time } from '../format.js';
import { heading, section } from '../page.js';

const SHOWN = 20;

function blockRow(block) {
  return h('tr', { dataset: { height: block.height } },
    h('th', { scope: 'row' }, link(['block', block.height], String(block.height))),
    h('td', {}, link(['block', block.height], h('code', {}, short(block.hash)), { title: String(block.hash) })),
    h('td', { class: 'num' }, String(block.transaction_count ?? 0)),
    h('td', {}, time(block.timestamp_ms)));
}

export default async function explorer(ctx) {
  ctx.title('Explorer');
  const headHeight = h('span', { id: 'head-height' }, '…');
  const headHash = h('code', { id: 'head-hash', class: 'hash' }, '…');
  const headTime = h('span', { id: 'head-time' }, '…');
  const chainId = h('span', { id: 'chain-id' }, '…');
  const pause = h('button', { type: 'button', id: 'live-toggle', 'aria-pressed': 'false' }, 'Pause live updates');
  const note = h('p', { class: 'muted small', id: 'live-note' }, '');
  const blocks = table({
    id: 'recent-blocks',
    caption: `The latest ${SHOWN} blocks, newest first`,
    head: ['Height', 'Hash', 'Transactions', 'Time (UTC)'],
  });
  // New rows are announced politely; the pause button stops them (WCAG 2.2.2).
  blocks.body.setAttribute('aria-live', 'polite');
  blocks.body.setAttribute('aria-relevant', 'additions');

  ctx.main.replaceChildren(
    heading('Explorer'),
    section('Chain head', { 'aria-live': 'polite', class: 'card head-summary' },
      facts([['Height', headHeight], ['Hash', headHash], ['Time', headTime], ['Chain id', chainId]])),
    section('Latest blocks', {}, h('div', { class: 'toolbar' }, pause, note), blocks.wrap),
  );

  let paused = false;
  let top = -1; // height of the newest row shown
  let loading = null;

  function setHead(height, hash, timestamp) {
    headHeight.textContent = String(height);
    headHash.textContent = String(hash);
    replace(headTime, time(timestamp));
  }

  async function load() {
    if (loading) return loading;
    loading = (async () => {
      try {
        const status = await get('/v1/status', { signal: ctx.signal });
        chainId.textContent = String(status.chain_id);
        setHead(status.height, status.head, status.head_timestamp_ms);
        const start = Math.max(0, status.height - (SHOWN - 1));
        const page = await get(`/v1/blocks?start=${start}&limit=${SHOWN}`, { signal: ctx.signal });
        const list = Array.isArray(page.blocks) ? [...page.blocks].reverse() : [];
        replace(blocks.body, list.map(blockRow));
        top = list.length ? list[0].height : -1;
        if (list.length && list[0].height > status.height) setHead(list[0].height, list[0].hash, list[0].timestamp_ms);
        ctx.clearError();
      } catch (e) {
        ctx.showError(e);
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  function onHead(head) {
    if (paused || loading) return;
    if (typeof head.height !== 'number') return;
    if (head.height <= top) return;
    if (top >= 0 && head.height > top + 1) {
      load(); // blocks were missed: fetch the page again
      return;
    }
    setHead(head.height, head.hash, head.timestamp_ms);
    blocks.body.prepend(blockRow(head));
    while (blocks.body.rows.length > SHOWN) blocks.body.lastElementChild.remove();
    top = head.height;
  }

  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume live updates' : 'Pause live updates';
    note.textContent = paused ? 'Live updates are paused.' : '';
    if (!paused) load();
  });

  ctx.heads(onHead, load);
  await load();
}
