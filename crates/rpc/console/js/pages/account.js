// #/account/{address} — an account's balance and nonce, proven in the browser against a
// block's state root, and a tool to check any pasted account proof the same way.

import { get, seg } from '../api.js';
import { verifyAccountResponse, verifyPastedAccount } from '../account-proof.js';
import { facts, h, link, replace } from '../dom.js';
import { grouped, short } from '../format.js';
import { isAddress } from '../hex.js';
import { heading, loadingNote, section } from '../page.js';

/** Shows a verdict in `el` with data-verified. */
function verdict(el, result) {
  el.dataset.verified = String(result.ok);
  el.classList.toggle('ok', result.ok);
  el.classList.toggle('bad', !result.ok);
  el.textContent = result.text;
}

function checking(el, text) {
  delete el.dataset.verified;
  el.classList.remove('ok', 'bad');
  el.textContent = text;
}

function proofTool(ctx, lastResponse) {
  const input = h('textarea', {
    id: 'proof-input', rows: '8', spellcheck: 'false', autocomplete: 'off',
    'aria-describedby': 'proof-input-help',
  });
  const result = h('p', { id: 'proof-check-result', class: 'verdict', 'aria-live': 'polite' });
  const check = h('button', { type: 'button', id: 'proof-check' }, 'Check the proof');
  const fill = h('button', { type: 'button', id: 'proof-fill', class: 'secondary' }, "Paste this page's response");
  check.addEventListener('click', async () => {
    check.disabled = true;
    checking(result, 'Checking the proof…');
    try {
      verdict(result, await verifyPastedAccount(input.value, { signal: ctx.signal }));
    } catch (e) {
      if (ctx.alive()) verdict(result, { ok: false, text: `Not verified: ${e.message || e}` });
    } finally {
      check.disabled = false;
    }
  });
  fill.addEventListener('click', () => {
    const response = lastResponse();
    if (response) input.value = JSON.stringify(response, null, 2);
    input.focus();
  });
  return section('Check a proof', { id: 'proof-tool' },
    h('p', {}, 'Paste an account response with its proof, as ', h('code', {}, 'GET /v1/accounts/{address}?proof=true'),
      ' returns it (from this node or any other). It is checked here, in your browser, against the state root of its block as this node serves it: the root in the pasted text is not trusted.'),
    h('label', { for: 'proof-input' }, 'Account response (JSON)'),
    h('p', { id: 'proof-input-help', class: 'muted small' }, 'Fields used: address, balance, nonce, exists, block, proof (and state_root, which must match the block’s).'),
    input,
    h('div', { class: 'actions' }, check, fill),
    result);
}

export default async function account(ctx) {
  const raw = ctx.params[0];
  ctx.title('Account');
  if (!isAddress(raw)) {
    ctx.main.replaceChildren(heading('Account'));
    ctx.showError(new Error(`"${raw}" is not an address (0x and 40 hex digits).`));
    return;
  }
  const address = raw.toLowerCase();
  ctx.title(`Account ${short(address)}`);
  let lastResponse = null;
  const details = h('div', { id: 'account-details' }, loadingNote());
  const refresh = h('button', { type: 'button', id: 'account-refresh', class: 'secondary' }, 'Refresh');
  const packageNote = h('div', { id: 'account-package' });
  ctx.main.replaceChildren(
    heading('Account ', h('code', { class: 'title-hash' }, short(address))),
    packageNote,
    details,
    proofTool(ctx, () => lastResponse));

  // A contract package is an account too: point to its page.
  get(`/v1/acs/packages/${seg(address)}`, { signal: ctx.signal }).then(() => {
    replace(packageNote, h('p', { class: 'note' }, 'This address is a contract package. ', link(['acs', address], 'Open the package')));
  }).catch(() => {});

  async function load() {
    refresh.disabled = true;
    try {
      const data = await get(`/v1/accounts/${seg(address)}?proof=true`, { signal: ctx.signal });
      lastResponse = data;
      ctx.clearError();
      const status = h('p', { id: 'proof-status', class: 'verdict', 'aria-live': 'polite' });
      checking(status, 'Checking the proof in your browser…');
      replace(details,
        section('State', {},
          facts([
            ['Address', h('code', { id: 'account-address', class: 'hash' }, String(data.address))],
            ['Balance (base units)', [h('span', { id: 'account-balance', class: 'num' }, String(data.balance)),
              String(data.balance).length > 3 ? h('span', { class: 'muted small grouping', 'aria-hidden': 'true' }, ` (${grouped(data.balance)})`) : null]],
            ['Nonce', h('span', { id: 'account-nonce' }, String(data.nonce))],
            ['Next nonce (with pending)', h('span', { id: 'account-pending-nonce' }, String(data.pending_nonce))],
            ['Exists', h('span', { id: 'account-exists' }, data.exists ? 'yes' : 'no (never received anything)')],
            ['As of block', link(['block', data.block], String(data.block), { id: 'account-block' })],
            ['State root', h('code', { id: 'account-state-root', class: 'hash' }, String(data.state_root))],
          ]),
          h('div', { class: 'actions' }, refresh)),
        section('Proof', {},
          h('p', {}, 'The node sent a Merkle proof of this account. Your browser checks it against the state root in block ',
            String(data.block), "'s header: the figures above are the ones that block commits to, not merely what the API says. ",
            "The header itself comes from this node; to rule out a node that lies about whole blocks, compare the block's hash with another organisation's node."),
          status,
          h('details', {}, h('summary', {}, `The proof's ${Array.isArray(data.proof) ? data.proof.length : 0} trie nodes`),
            // At most 64 shown: a hostile answer may list any number (the check refuses it).
            h('ol', { class: 'proof-nodes' }, (Array.isArray(data.proof) ? data.proof.slice(0, 64) : []).map((node) => h('li', {}, h('code', { class: 'hash' }, String(node).slice(0, 4096))))))));
      verdict(status, await verifyAccountResponse(data, { signal: ctx.signal, address }));
    } catch (e) {
      if (ctx.alive()) {
        replace(details);
        ctx.showError(e);
      }
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', load);
  await load();
}
