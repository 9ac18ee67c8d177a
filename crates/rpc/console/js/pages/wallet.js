// #/wallet — keys kept in this browser, balances, transfers and contract (ACS) transactions
// signed here with the chain's crypto suite (js/suite.js): Ed25519 through WebCrypto on an
// ed25519-keccak chain, SM2 through the vendored sm-crypto-v2 on an sm2-sm3 chain. A key is
// 32 bytes either way (a seed, or an SM2 secret key) and is derived with the chain's suite.
// Keys never leave the browser: the node only ever sees signed transactions.

import { ApiError, describe, get, post, seg } from '../api.js';
import { decimalHelp, parseFieldLines } from '../acs-input.js';
import { copyButton, facts, h, link, replace } from '../dom.js';
import { fromHex, isAddress, isDecimalDigits, isHexOf, parseUnsigned, toHex } from '../hex.js';
import { heading, loadingNote, section } from '../page.js';
import { SM2_SM3, chainSuite } from '../suite.js';
import {
  LIMITS, acsSigningMessage, encodeAcs, encodeTransfer, intrinsicGas, isContractName,
  packageAddress, transferSigningMessage, txHash,
} from '../tx.js';
import { load as loadWallet, save as saveWallet, storageAvailable } from '../wallet-store.js';

const DEFAULT_CALL_GAS = 1_000_000n;
const keyCache = new Map(); // "suite seed" → Promise of the imported key

/** The key `seed` (0x-hex, 32 bytes) is under `suite`; rejects if it is none there. */
function keyFor(suite, seed) {
  const id = `${suite.name} ${seed}`;
  if (!keyCache.has(id)) {
    const key = suite.importKey(fromHex(seed, { length: 32, what: `the ${suite.keyName}` }));
    key.catch(() => keyCache.delete(id));
    keyCache.set(id, key);
  }
  return keyCache.get(id);
}

/**
 * Sets each key's address from its seed under `suite`, whatever is stored next to it (a stored
 * address that is not the seed's would show one account's balance while signing for another).
 * A seed that is no key under this suite (an SM2 key must be from 1 to n-2) gets address
 * null: it stays stored but is not offered.
 */
async function derive(suite, wallet) {
  for (const key of wallet.keys) {
    try {
      key.address = (await keyFor(suite, key.seed)).address;
    } catch {
      key.address = null;
    }
  }
}

/** A message line: role=alert for errors, status otherwise. */
function say(el, text, kind = 'info') {
  const box = h('p', { class: kind === 'error' ? 'form-error' : 'form-ok', role: kind === 'error' ? 'alert' : 'status' }, text);
  replace(el, text ? box : null);
}

/** A status word with data-status, for a followed transaction. */
function setStatus(el, status) {
  el.textContent = status;
  el.dataset.status = status;
}

/** JSON with exact integers (JSON.stringify cannot write BigInt). */
function transferJson(tx, publicKey, signature) {
  return `{"chain_id":${BigInt(tx.chainId)},"nonce":${BigInt(tx.nonce)},"to":${JSON.stringify(tx.to)},` +
    `"amount":"${BigInt(tx.amount)}","public_key":"${toHex(publicKey)}","signature":"${toHex(signature)}"}`;
}

function field(id, label, input, help) {
  return h('div', { class: 'field', id: `${id}-field` },
    h('label', { for: id }, label), input,
    help ? h('p', { class: 'muted small', id: `${id}-help` }, help) : null);
}

export default async function wallet(ctx) {
  ctx.title('Wallet');
  const body = h('div', { id: 'wallet' }, loadingNote());
  ctx.main.replaceChildren(heading('Wallet'), body);

  const suite = await chainSuite();
  if (!ctx.alive()) return;
  const word = suite.keyName; // "seed" or "secret key"
  const support = await suite.support();
  if (!ctx.alive()) return;
  if (!support.ok) {
    replace(body, h('div', { id: 'wallet-unsupported', class: 'alert error', role: 'alert' },
      h('p', {}, 'The wallet cannot work in this browser. ', support.reason),
      h('p', {}, 'Everything else in the console works; to send transactions use another browser or the ', h('code', {}, 'cairn tx'), ' command.')));
    return;
  }
  if (!storageAvailable()) {
    replace(body, h('div', { id: 'wallet-unsupported', class: 'alert error', role: 'alert' },
      h('p', {}, 'This browser does not let the console keep keys (local storage is disabled), so the wallet cannot work here.')));
    return;
  }

  let state = loadWallet();
  let chainId = null;
  let account = null; // the latest GET /v1/accounts answer for the current key
  let stopTransfer = () => {};
  let stopAcs = () => {};
  await derive(suite, state);
  if (!ctx.alive()) return;

  const message = h('div', { id: 'wallet-message', 'aria-live': 'polite' });
  const lossyNote = () => (state.lossy
    ? h('p', { class: 'form-error', role: 'alert', id: 'wallet-lossy' }, 'Part of the wallet data stored in this browser could not be read. It is kept, under a key starting with cairn.wallet.backup-, the next time the wallet is saved.')
    : null);
  const usable = () => state.keys.filter((k) => k.address);
  const currentKey = () => usable().find((k) => k.address === state.current) || usable()[0] || null;
  const suiteNote = () => h('p', { id: 'wallet-suite', class: 'muted' },
    `Signing: ${suite.signing} (${suite.name} chain). Addresses and transaction hashes use ${suite.hashName}.`);
  const unusableNote = () => {
    const count = state.keys.length - usable().length;
    if (!count) return null;
    return h('p', { class: 'form-error', role: 'alert', id: 'wallet-unusable' },
      `${count} key(s) kept in this browser are not ${suite.signing} keys, so they are not offered on this chain. They stay stored.`);
  };

  /** Saves the keys; says so and returns false if the browser refuses. */
  function persist() {
    try {
      saveWallet(state);
      state.lossy = false;
      return true;
    } catch (e) {
      state = loadWallet(); // what is really stored
      render();
      say(message, `The browser refused to save the keys, so nothing changed: ${e.message}`, 'error');
      return false;
    }
  }

  // ---- keys -----------------------------------------------------------------------------

  function keysSection() {
    const seedInput = h('input', {
      id: 'wallet-import-seed', type: 'password', autocomplete: 'off', spellcheck: 'false',
      placeholder: '0x…', class: 'wide', 'aria-describedby': 'wallet-import-seed-help',
    });
    const show = h('button', { type: 'button', id: 'wallet-import-show', class: 'secondary', 'aria-pressed': 'false', 'aria-controls': 'wallet-import-seed' }, 'Show');
    show.addEventListener('click', () => {
      const shown = seedInput.type === 'password';
      seedInput.type = shown ? 'text' : 'password';
      show.setAttribute('aria-pressed', String(shown));
      show.textContent = shown ? 'Hide' : 'Show';
    });
    const create = h('button', { type: 'button', id: 'wallet-create' }, 'Create a new key');
    create.addEventListener('click', async () => {
      create.disabled = true;
      try {
        const seed = toHex(suite.randomKey());
        const key = await keyFor(suite, seed);
        state.keys.push({ seed, address: key.address, added_ms: Date.now() });
        state.current = key.address;
        if (!persist()) return;
        render();
        say(message, `Created key ${key.address}. Back up its ${word} now: without it the key cannot be recovered.`);
      } catch (e) {
        say(message, `Could not create a key: ${e.message}`, 'error');
        create.disabled = false;
      }
    });
    const importForm = h('form', { id: 'wallet-import-form', class: 'inline-form', novalidate: true },
      h('div', { class: 'field' },
        h('label', { for: 'wallet-import-seed' }, `Import a key by its ${word}`),
        h('div', { class: 'with-button' }, seedInput, show),
        h('p', { id: 'wallet-import-seed-help', class: 'muted small' },
          suite.name === SM2_SM3 ? '0x and 64 hex digits, an SM2 secret key (what ' : '0x and 64 hex digits (what ',
          h('code', {}, 'cairn devnet'), ' lists as a private key). It stays in this browser.')),
      h('button', { type: 'submit', id: 'wallet-import' }, 'Import'));
    importForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      let text = seedInput.value.trim();
      if (/^[0-9a-fA-F]{64}$/.test(text)) text = `0x${text}`;
      if (!isHexOf(text, 32)) {
        seedInput.setAttribute('aria-invalid', 'true');
        say(message, `A ${word} is 0x and 64 hex digits.`, 'error');
        seedInput.focus();
        return;
      }
      const seed = text.toLowerCase();
      try {
        const key = await keyFor(suite, seed);
        seedInput.value = '';
        const known = state.keys.find((k) => k.seed === seed);
        if (known) {
          known.address = key.address;
          state.current = key.address;
          if (!persist()) return;
          render();
          say(message, `Key ${key.address} is already in the wallet; it is now the current key.`);
          return;
        }
        state.keys.push({ seed, address: key.address, added_ms: Date.now() });
        state.current = key.address;
        if (!persist()) return;
        render();
        say(message, `Imported key ${key.address}.`);
      } catch (e) {
        say(message, `Could not import the key: ${e.message}`, 'error');
      }
    });

    const key = currentKey();
    let chooser = null;
    if (usable().length > 1) {
      const select = h('select', { id: 'wallet-key' },
        usable().map((k) => h('option', { value: k.address, selected: key && k.address === key.address }, k.address)));
      select.addEventListener('change', () => {
        state.current = select.value;
        if (!persist()) return;
        render();
        say(message, `Now using key ${select.value}.`);
        document.getElementById('wallet-key')?.focus();
      });
      chooser = field('wallet-key', `Current key (${usable().length} in this browser)`, select);
    }
    return section('Keys', { id: 'wallet-keys' },
      suiteNote(),
      h('p', { class: 'note' }, `Keys live in this browser only (its local storage), unencrypted: anyone who can use this browser profile can use them. Back up each ${word}; clearing the browser data deletes them.`),
      lossyNote(),
      unusableNote(),
      chooser,
      h('div', { class: 'actions' }, create),
      importForm,
      message);
  }

  // ---- the current key ------------------------------------------------------------------

  function currentSection(key) {
    const balance = h('span', { id: 'wallet-balance', class: 'num' }, '…');
    const nonce = h('span', { id: 'wallet-nonce' }, '…');
    const pending = h('span', { id: 'wallet-pending-nonce' }, '…');
    // The seed is put in the page only while it is shown (a saved page must not hold it).
    const seed = h('code', { id: 'wallet-seed', class: 'hash secret', hidden: true });
    const copySeed = copyButton(key.seed, `Copy the ${word}`);
    copySeed.hidden = true;
    const backup = h('button', { type: 'button', id: 'wallet-backup', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': 'wallet-seed' }, `Back up: show the ${word}`);
    backup.addEventListener('click', () => {
      const reveal = seed.hidden;
      seed.textContent = reveal ? key.seed : '';
      seed.hidden = !reveal;
      copySeed.hidden = !reveal;
      backup.setAttribute('aria-expanded', String(reveal));
      backup.textContent = reveal ? `Hide the ${word}` : `Back up: show the ${word}`;
    });
    const forget = h('button', { type: 'button', id: 'wallet-forget', class: 'danger' }, 'Forget this key');
    const confirm = h('div', { id: 'wallet-forget-panel', class: 'confirm', hidden: true, role: 'group', 'aria-labelledby': 'wallet-forget-question' },
      h('p', { id: 'wallet-forget-question' }, `Forget key ${key.address}? Unless you have backed up its ${word}, whatever it holds is lost for good.`),
      h('button', { type: 'button', id: 'wallet-forget-confirm', class: 'danger' }, 'Yes, forget it'),
      h('button', { type: 'button', id: 'wallet-forget-cancel', class: 'secondary' }, 'Cancel'));
    forget.addEventListener('click', () => {
      confirm.hidden = false;
      forget.disabled = true;
      confirm.querySelector('#wallet-forget-cancel').focus();
    });
    confirm.querySelector('#wallet-forget-cancel').addEventListener('click', () => {
      confirm.hidden = true;
      forget.disabled = false;
      forget.focus();
    });
    confirm.querySelector('#wallet-forget-confirm').addEventListener('click', () => {
      state.keys = state.keys.filter((k) => k.seed !== key.seed);
      keyCache.delete(`${suite.name} ${key.seed}`);
      state.current = usable()[0] ? usable()[0].address : null;
      if (!persist()) return;
      render();
      say(message, `Forgot key ${key.address}.`);
    });

    const update = (a) => {
      account = a;
      balance.textContent = String(a.balance);
      nonce.textContent = String(a.nonce);
      pending.textContent = String(a.pending_nonce);
    };
    return {
      update,
      el: section('Current key', { id: 'wallet-current', 'aria-live': 'polite' },
        facts([
          ['Address', [h('code', { id: 'wallet-address', class: 'hash' }, key.address), ' ', copyButton(key.address, 'Copy address')]],
          ['Balance (base units)', balance],
          ['Nonce', nonce],
          ['Next nonce (with pending)', pending],
        ]),
        h('p', {}, link(['account', key.address], 'Open the account page (with its proof)')),
        h('div', { class: 'actions' }, backup, forget),
        seed,
        copySeed,
        confirm),
    };
  }

  // ---- sending --------------------------------------------------------------------------

  async function prepare(key) {
    if (chainId === null) {
      const status = await get('/v1/status', { signal: ctx.signal });
      if (!Number.isSafeInteger(status.chain_id)) throw new Error('the chain id is too large for this console to sign for');
      chainId = BigInt(status.chain_id);
    }
    const fresh = await get(`/v1/accounts/${seg(key.address)}`, { signal: ctx.signal });
    if (!Number.isSafeInteger(fresh.pending_nonce)) throw new Error('the nonce is too large for this console');
    return { chainId, nonce: BigInt(fresh.pending_nonce), account: fresh };
  }

  function followInto(hash, statusEl, details, onFinal) {
    return ctx.follow(hash, {
      onUpdate: (r) => {
        setStatus(statusEl, String(r.status));
        if ((r.status === 'committed' || r.status === 'failed') && onFinal) onFinal(r);
        if (r.status === 'unknown') replace(details, h('p', { class: 'form-error', role: 'alert' }, 'The node no longer knows this transaction: it left the pool without being included.'));
      },
      onError: (e) => replace(details, h('p', { class: 'muted small' }, `Could not check the status: ${describe(e)} (retrying)`)),
    });
  }

  function receiptLines(r) {
    const receipt = r.receipt && typeof r.receipt === 'object' ? r.receipt : {};
    return h('ul', { class: 'plain' },
      r.block !== undefined ? h('li', {}, 'In block ', link(['block', r.block], String(r.block))) : null,
      receipt.reason ? h('li', {}, `Reason: ${receipt.reason}`) : null,
      receipt.return !== undefined ? h('li', {}, 'Returned: ', h('code', { id: 'acs-call-return' }, String(receipt.return))) : null,
      receipt.gas_used !== undefined ? h('li', {}, `Gas used: ${receipt.gas_used}`) : null,
      receipt.error ? h('li', { id: 'acs-call-error' }, `Error: ${receipt.error}`) : null);
  }

  function transferSection(key) {
    const to = h('input', { id: 'transfer-to', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '0x…', class: 'wide', 'aria-describedby': 'transfer-to-help' });
    const amount = h('input', { id: 'transfer-amount', type: 'text', inputmode: 'numeric', autocomplete: 'off', placeholder: '1000', 'aria-describedby': 'transfer-amount-help' });
    const send = h('button', { type: 'submit', id: 'transfer-send' }, 'Sign and send');
    const msg = h('div', { id: 'transfer-message' });
    const result = h('div', { id: 'transfer-result', 'aria-live': 'polite' });
    const form = h('form', { id: 'transfer-form', novalidate: true },
      field('transfer-to', 'Recipient address', to, '0x and 40 hex digits.'),
      field('transfer-amount', 'Amount (base units)', amount, 'Whole base units, digits only.'),
      h('div', { class: 'actions' }, send),
      msg, result);

    const invalid = (input, text) => {
      input.setAttribute('aria-invalid', 'true');
      say(msg, text, 'error');
      input.focus();
    };
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      to.removeAttribute('aria-invalid');
      amount.removeAttribute('aria-invalid');
      const recipient = to.value.trim();
      if (!isAddress(recipient)) return invalid(to, 'Recipient: enter an address, 0x and 40 hex digits.');
      let value;
      try {
        value = parseUnsigned(amount.value.trim(), 128, 'Amount');
      } catch (e) {
        return invalid(amount, `${e.message}.`);
      }
      if (value === 0n) return invalid(amount, 'Amount: send at least 1 base unit.');
      if (account && isDecimalDigits(String(account.balance)) && value > BigInt(account.balance)) {
        return invalid(amount, `Amount: ${value} is more than the balance, ${account.balance}.`);
      }
      send.disabled = true;
      say(msg, 'Signing and sending…');
      try {
        const { chainId: id, nonce } = await prepare(key);
        const tx = { chainId: id, nonce, to: recipient.toLowerCase(), amount: value };
        const signer = await keyFor(suite, key.seed);
        const signature = await signer.sign(transferSigningMessage(tx));
        const localHash = txHash(encodeTransfer(tx, signer.publicKey, signature), suite.hash);
        const answer = await post('/v1/transactions', { json: transferJson(tx, signer.publicKey, signature), signal: ctx.signal });
        const hash = String(answer.hash).toLowerCase();
        if (hash !== localHash) throw new Error(`the node reports hash ${hash}, but the transaction signed here hashes to ${localHash}`);
        stopTransfer();
        const status = h('span', { id: 'transfer-status', class: 'status' });
        setStatus(status, 'pending');
        const details = h('div', { id: 'transfer-details' });
        replace(result,
          h('p', {}, 'Transaction ', h('a', { id: 'transfer-hash', href: `#/tx/${hash}`, class: 'hash' }, hash)),
          h('p', {}, 'Status: ', status, ` (nonce ${nonce}, ${value} base units to ${tx.to})`),
          details);
        say(msg, 'Sent. Following it until it is in a block…');
        amount.value = '';
        stopTransfer = followInto(hash, status, details, (r) => {
          replace(details, receiptLines(r));
          say(msg, r.status === 'committed' ? 'The transfer is in a block.' : 'The transfer is in a block, but it failed.');
          refresh();
        });
      } catch (e) {
        if (!ctx.alive()) return;
        say(msg, `Not sent: ${describe(e)}`, 'error');
      } finally {
        send.disabled = false;
      }
    });
    return section('Send a transfer', { id: 'wallet-transfer' },
      h('p', { class: 'muted' }, 'From ', h('code', { class: 'hash' }, key.address), ". The nonce is the account's next one, counting transactions still pending."),
      form);
  }

  function acsSection(key) {
    const action = h('select', { id: 'acs-call-action' },
      h('option', { value: 'call' }, 'call: run a contract on a record'),
      h('option', { value: 'join' }, 'join: become a holder of a package'),
      h('option', { value: 'set' }, 'set: write fields of a record (operator only)'),
      h('option', { value: 'deploy' }, 'deploy: deploy a package'));
    const pkg = h('input', { id: 'acs-call-package', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '0x…', class: 'wide' });
    const contract = h('input', { id: 'acs-call-contract', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'holder.getvbl' });
    const record = h('input', { id: 'acs-call-record', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: key.address, class: 'wide' });
    const fields = h('textarea', { id: 'acs-call-fields', rows: '4', spellcheck: 'false', placeholder: 'rent=900\nrate=0.05' });
    const source = h('textarea', { id: 'acs-call-source', rows: '8', spellcheck: 'false', class: 'code' });
    const file = h('input', { id: 'acs-call-file', type: 'file', accept: '.properties,.txt,text/plain' });
    const gas = h('input', { id: 'acs-call-gas', type: 'text', inputmode: 'numeric', autocomplete: 'off', placeholder: String(DEFAULT_CALL_GAS) });
    const gasNote = h('p', { id: 'acs-call-gas-note', class: 'muted small' });
    const send = h('button', { type: 'submit', id: 'acs-call-send' }, 'Sign and send');
    const msg = h('div', { id: 'acs-call-message' });
    const result = h('div', { id: 'acs-call-result', 'aria-live': 'polite' });
    const groups = {
      package: field('acs-call-package', 'Package address', pkg),
      contract: field('acs-call-contract', 'Contract', contract, 'Its name, such as holder or holder.getvbl.'),
      record: field('acs-call-record', 'Record', record, 'Whose record: leave empty for your own.'),
      fields: field('acs-call-fields', 'Fields to set', fields, `One per line: NAME=DECIMAL (${decimalHelp}); at most ${LIMITS.maxSetFields}.`),
      source: h('div', {}, field('acs-call-source', 'Package source', source, `The properties file; at most ${LIMITS.maxSourceBytes} bytes. You become the package's operator.`),
        field('acs-call-file', 'Or load it from a file', file)),
      gas: field('acs-call-gas', 'Gas limit', gas, `From ${LIMITS.baseGas + LIMITS.callGas} to ${LIMITS.maxTransactionGas}; empty for ${DEFAULT_CALL_GAS}.`),
    };
    const shown = { call: ['package', 'contract', 'record', 'gas'], join: ['package'], set: ['package', 'record', 'fields'], deploy: ['source'] };
    const sync = () => {
      for (const [name, group] of Object.entries(groups)) group.hidden = !shown[action.value].includes(name);
      gasNote.textContent = action.value === 'call' ? '' : 'Gas limit: the action\'s intrinsic cost, computed when you send.';
    };
    action.addEventListener('change', sync);
    file.addEventListener('change', async () => {
      const chosen = file.files && file.files[0];
      if (!chosen) return;
      if (chosen.size > LIMITS.maxSourceBytes) {
        say(msg, `That file is ${chosen.size} bytes; a package holds at most ${LIMITS.maxSourceBytes}.`, 'error');
        return;
      }
      source.value = await chosen.text();
    });
    const form = h('form', { id: 'acs-call-form', novalidate: true },
      field('acs-call-action', 'Action', action),
      Object.values(groups), gasNote,
      h('div', { class: 'actions' }, send), msg, result);
    sync();

    /** The action the form describes, or throws an Error naming what is wrong. */
    function readAction() {
      const kind = action.value;
      const address = (input, what) => {
        const text = input.value.trim();
        if (!isAddress(text)) throw Object.assign(new Error(`${what}: enter 0x and 40 hex digits.`), { input });
        return text.toLowerCase();
      };
      const recordOf = () => (record.value.trim() === '' ? key.address : address(record, 'Record'));
      if (kind === 'join') return { kind, package: address(pkg, 'Package') };
      if (kind === 'deploy') {
        const text = source.value;
        if (!text.trim()) throw Object.assign(new Error('Package source: paste or load the package.'), { input: source });
        if (new TextEncoder().encode(text).length > LIMITS.maxSourceBytes) {
          throw Object.assign(new Error(`Package source: at most ${LIMITS.maxSourceBytes} bytes.`), { input: source });
        }
        return { kind, source: text };
      }
      if (kind === 'set') {
        const p = address(pkg, 'Package');
        const r = recordOf();
        let list;
        try {
          list = parseFieldLines(fields.value);
        } catch (e) {
          throw Object.assign(new Error(`Fields: ${e.message}`), { input: fields });
        }
        return { kind, package: p, record: r, fields: list };
      }
      const p = address(pkg, 'Package');
      const name = contract.value.trim();
      if (!isContractName(name)) throw Object.assign(new Error('Contract: a name such as holder or holder.getvbl (letters, digits and _, parts joined by dots).'), { input: contract });
      return { kind: 'call', package: p, contract: name, record: recordOf() };
    }

    function gasFor(act) {
      const needed = intrinsicGas(act);
      if (act.kind !== 'call') return needed;
      const text = gas.value.trim();
      if (text === '') return DEFAULT_CALL_GAS;
      let limit;
      try {
        limit = parseUnsigned(text, 64, 'Gas limit');
      } catch (e) {
        throw Object.assign(new Error(`${e.message}.`), { input: gas });
      }
      if (limit < needed || limit > LIMITS.maxTransactionGas) {
        throw Object.assign(new Error(`Gas limit: from ${needed} to ${LIMITS.maxTransactionGas}.`), { input: gas });
      }
      return limit;
    }

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
      let act;
      let gasLimit;
      try {
        act = readAction();
        gasLimit = gasFor(act);
      } catch (e) {
        say(msg, e.message, 'error');
        if (e.input) {
          e.input.setAttribute('aria-invalid', 'true');
          e.input.focus();
        }
        return;
      }
      send.disabled = true;
      say(msg, 'Signing and sending…');
      try {
        const { chainId: id, nonce } = await prepare(key);
        const tx = { chainId: id, nonce, gasLimit, action: act };
        const signer = await keyFor(suite, key.seed);
        const signature = await signer.sign(acsSigningMessage(tx));
        const encoded = encodeAcs(tx, signer.publicKey, signature);
        const localHash = txHash(encoded, suite.hash);
        const answer = await post('/v1/transactions/raw', { bytes: encoded, signal: ctx.signal });
        const item = answer && Array.isArray(answer.results) ? answer.results[0] : null;
        if (!item) throw new Error('the node gave no result for the transaction');
        if (item.error) throw new ApiError(422, item.error.code, item.error.message, item.error.field);
        const hash = String(item.hash).toLowerCase();
        if (hash !== localHash) throw new Error(`the node reports hash ${hash}, but the transaction signed here hashes to ${localHash}`);
        stopAcs();
        const status = h('span', { id: 'acs-call-status', class: 'status' });
        setStatus(status, 'pending');
        const details = h('div', { id: 'acs-call-details' });
        const created = act.kind === 'deploy' ? packageAddress(key.address, nonce, suite.hash) : null;
        replace(result,
          h('p', {}, 'Transaction ', h('a', { id: 'acs-call-hash', href: `#/tx/${hash}`, class: 'hash' }, hash)),
          h('p', {}, 'Status: ', status, ` (${act.kind}, nonce ${nonce}, gas limit ${gasLimit})`),
          created ? h('p', {}, 'Package address: ', link(['acs', created], created, { id: 'acs-call-package-address', class: 'hash' })) : null,
          details);
        say(msg, 'Sent. Following it until it is in a block…');
        stopAcs = followInto(hash, status, details, (r) => {
          replace(details, receiptLines(r));
          say(msg, r.status === 'committed' ? 'The transaction is in a block and succeeded.' : 'The transaction is in a block, but it failed.');
          refresh();
        });
      } catch (e) {
        if (!ctx.alive()) return;
        say(msg, `Not sent: ${describe(e)}`, 'error');
      } finally {
        send.disabled = false;
      }
    });
    return section('Contract transaction (ACS)', { id: 'wallet-acs' },
      h('p', { class: 'muted' }, 'Signed here and sent raw (RLP) to the node. Calls, joins and sets address a deployed package; see the Contracts page for its contracts.'),
      form);
  }

  // ---- page -----------------------------------------------------------------------------

  let current = null; // {key, update}
  let refreshing = false;
  async function refresh() {
    if (!current || refreshing) return;
    refreshing = true;
    const { key, update } = current;
    try {
      const a = await get(`/v1/accounts/${seg(key.address)}`, { signal: ctx.signal });
      if (current && current.key === key) update(a);
      ctx.clearError();
    } catch (e) {
      ctx.showError(e);
    } finally {
      refreshing = false;
    }
  }

  function render() {
    stopTransfer();
    stopAcs();
    account = null;
    const key = currentKey();
    if (key && state.current !== key.address) state.current = key.address;
    const keys = keysSection();
    if (!key) {
      current = null;
      replace(body, keys, section('No key yet', { id: 'wallet-current' },
        h('p', {}, 'Create a key or import one to see its balance and send transactions.')));
      return;
    }
    const panel = currentSection(key);
    current = { key, update: panel.update };
    replace(body, keys, panel.el, transferSection(key), acsSection(key));
    refresh();
  }

  render();
  ctx.heads(() => refresh(), () => refresh());
  // Another tab of this console changed the keys: show them as they are now.
  let latest = null; // the last wallet read on a storage event
  const onStorage = async (event) => {
    if (event.key !== null && event.key !== 'cairn.wallet') return;
    const stored = loadWallet();
    latest = stored;
    await derive(suite, stored);
    if (!ctx.alive() || latest !== stored) return; // a newer change is on its way
    state = stored;
    render();
  };
  window.addEventListener('storage', onStorage);
  ctx.onCleanup(() => window.removeEventListener('storage', onStorage));
}
