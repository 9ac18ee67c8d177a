// #/acs and #/acs/{package} — contract packages: their contracts, constants and schedule,
// records (with their storage proofs checked in the browser), read-only queries and the
// recent runs of their schedules.

import { ApiError, describe, get, seg } from '../api.js';
import { facts, h, link, replace, table } from '../dom.js';
import { short, time } from '../format.js';
import { isAddress } from '../hex.js';
import { focusWithin, heading, loadingNote, section } from '../page.js';
import { verifyRecordProof } from '../proof.js';
import { chainSuite } from '../suite.js';
import { isContractName } from '../tx.js';

const JOB_RUNS = 100;
const JOBS_REFRESH_MS = 5000;

function openForm(value = '') {
  const input = h('input', {
    id: 'acs-package-input', type: 'text', spellcheck: 'false', autocomplete: 'off', value,
    placeholder: '0x…', 'aria-describedby': 'acs-package-help', class: 'wide',
  });
  const message = h('p', { id: 'acs-open-message', class: 'form-error', role: 'alert' });
  const form = h('form', { id: 'acs-open-form', class: 'inline-form', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'acs-package-input' }, 'Package address'),
      input,
      h('p', { id: 'acs-package-help', class: 'muted small' }, '0x and 40 hex digits, as ', h('code', {}, 'cairn acs deploy'), ' printed it.')),
    h('button', { type: 'submit', id: 'acs-open' }, 'Open'),
    message);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const address = input.value.trim();
    if (!isAddress(address)) {
      message.textContent = 'A package address is 0x and 40 hex digits.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    message.textContent = '';
    location.hash = `#/acs/${address.toLowerCase()}`;
  });
  return form;
}

function packageDetails(p) {
  const contracts = table({
    id: 'acs-contracts', caption: 'Contracts, in source order', head: ['Contract', 'Runs on'],
    rows: (Array.isArray(p.contracts) ? p.contracts : []).map((c) => h('tr', {},
      h('th', { scope: 'row' }, h('code', {}, String(c.name))), h('td', {}, `${c.role} records`))),
  });
  const constants = Object.entries(p.constants && typeof p.constants === 'object' ? p.constants : {});
  const schedule = Array.isArray(p.schedule) ? p.schedule : [];
  return [
    facts([
      ['Package', h('code', { class: 'hash', id: 'acs-package-address' }, String(p.package))],
      ['Operator (deployer)', link(['account', p.operator], h('code', {}, String(p.operator)), { class: 'hash' })],
      ['Active', h('span', { id: 'acs-package-active' }, p.active ? 'yes: it runs contracts' : 'no: its commitACS line has not run yet')],
      ['Holders', String(p.holders)],
      ['Deployed in block', link(['block', p.deployed_block], String(p.deployed_block))],
      ['Code hash', h('code', { class: 'hash' }, String(p.code_hash))],
      ['As of block', String(p.block)],
    ]),
    h('h3', {}, 'Contracts'),
    contracts.wrap,
    h('h3', {}, 'Constants'),
    constants.length ? table({
      id: 'acs-constants', caption: 'Constants', captionHidden: true, head: ['Key', 'Value'],
      rows: constants.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, h('code', {}, k)), h('td', { class: 'num' }, String(v)))),
    }).wrap : h('p', { class: 'muted' }, 'None.'),
    h('h3', {}, 'Schedule'),
    schedule.length ? table({
      id: 'acs-schedule', caption: 'Schedule lines', captionHidden: true, head: ['Line', 'Trigger', 'Action', 'Condition'],
      rows: schedule.map((l) => h('tr', {},
        h('th', { scope: 'row', class: 'num' }, String(l.line)),
        h('td', {}, h('code', {}, String(l.trigger))),
        h('td', {}, h('code', {}, String(l.action))),
        h('td', {}, l.condition ? 'yes' : 'no'))),
    }).wrap : h('p', { class: 'muted' }, 'No schedule lines.'),
  ];
}

/** A button that puts the operator's address in `input`. */
function fillButton(input, operator) {
  if (!isAddress(operator)) return null;
  const button = h('button', { type: 'button', class: 'secondary' }, "Use the operator's record");
  button.addEventListener('click', () => {
    input.value = operator.toLowerCase();
    input.focus();
  });
  return button;
}

async function recordResult(ctx, pkg, record) {
  const rec = await get(`/v1/acs/packages/${seg(pkg)}/records/${seg(record)}?proof=true`, { signal: ctx.signal });
  const verdict = h('p', { id: 'acs-record-proof', class: 'verdict', 'aria-live': 'polite' }, 'Checking the storage proof in your browser…');
  const fields = Object.entries(rec.fields && typeof rec.fields === 'object' ? rec.fields : {});
  const proofs = Array.isArray(rec.storage_proof) ? rec.storage_proof : [];
  const out = [
    facts([
      ['Package', h('code', { class: 'hash' }, String(rec.package))],
      ['Record', link(['account', rec.record], h('code', {}, String(rec.record)), { class: 'hash' })],
      ['Role (not covered by the proof)', h('span', { id: 'acs-record-role' }, String(rec.role))],
      ['As of block', link(['block', rec.block], String(rec.block))],
      ['State root', h('code', { class: 'hash' }, String(rec.state_root))],
      ['Storage root', rec.storage_hash ? h('code', { class: 'hash' }, String(rec.storage_hash)) : undefined],
    ]),
    fields.length ? table({
      id: 'acs-record-fields', caption: 'Fields', head: ['Field', 'Value'],
      rows: fields.map(([name, value]) => h('tr', { dataset: { field: name } },
        h('th', { scope: 'row' }, h('code', {}, name)), h('td', { class: 'num' }, String(value)))),
    }).wrap : h('p', { class: 'muted' }, 'No fields written yet (every field reads as 0).'),
    h('h3', {}, 'Storage proof'),
    verdict,
    proofs.length ? h('details', {}, h('summary', {}, `Proof of each field (${proofs.length})`),
      h('ul', { class: 'plain' }, proofs.map((p) => h('li', {},
        h('code', {}, String(p.field)), ` at slot `, h('code', { class: 'hash' }, String(p.key)),
        `: word `, h('code', { class: 'hash' }, String(p.value)), `, ${Array.isArray(p.proof) ? p.proof.length : 0} trie node(s)`)))) : null,
  ];
  const check = async () => {
    // A proof about another package or record proves nothing about the one asked for.
    const same = (a, b) => typeof a === 'string' && a.toLowerCase() === String(b).toLowerCase();
    if (!same(rec.package, pkg) || !same(rec.record, record)) {
      return { ok: false, text: `Not verified: the node answered for record ${rec.record} of package ${rec.package}, not ${record} of ${pkg}` };
    }
    let header;
    try {
      header = await get(`/v1/blocks/${seg(rec.block)}`, { signal: ctx.signal });
    } catch (e) {
      return { ok: false, text: `Not verified: could not read block ${rec.block}: ${e.message}` };
    }
    if (header.height !== rec.block || typeof header.state_root !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(header.state_root)) {
      return { ok: false, text: `Not verified: this node's answer for block ${rec.block} is malformed` };
    }
    if (typeof rec.state_root !== 'string' || rec.state_root.toLowerCase() !== String(header.state_root).toLowerCase()) {
      return { ok: false, text: `Not verified: the record's state root is not block ${rec.block}'s` };
    }
    let suite;
    try {
      suite = await chainSuite();
    } catch (e) {
      return { ok: false, text: `Not verified: could not tell which hash this chain's trie uses: ${e.message}` };
    }
    const result = verifyRecordProof(rec, header.state_root, { hash: suite.hash });
    return result.ok
      ? { ok: true, text: `Verified against the state root ${header.state_root} of block ${rec.block}: the package account, its storage root and the ${proofs.length} field(s) shown (the proof does not show that no other field exists, nor the role).` }
      : { ok: false, text: `Not verified: ${result.reason}` };
  };
  return { out, verdict, check };
}

function recordLookup(ctx, pkg, operator) {
  const input = h('input', { id: 'acs-record-input', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: '0x…', class: 'wide' });
  const result = h('div', { id: 'acs-record', 'aria-live': 'polite' });
  const form = h('form', { class: 'inline-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'acs-record-input' }, 'Record address (a holder, or the operator)'), input),
    h('button', { type: 'submit', id: 'acs-record-open' }, 'Look up'),
    fillButton(input, operator));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const record = input.value.trim().toLowerCase();
    if (!isAddress(record)) {
      replace(result, h('p', { class: 'form-error', role: 'alert', id: 'acs-record-error' }, 'A record address is 0x and 40 hex digits.'));
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    input.removeAttribute('aria-invalid');
    replace(result, loadingNote('Looking up the record…'));
    try {
      const { out, verdict, check } = await recordResult(ctx, pkg, record);
      replace(result, out);
      const v = await check();
      verdict.dataset.verified = String(v.ok);
      verdict.classList.add(v.ok ? 'ok' : 'bad');
      verdict.textContent = v.text;
    } catch (e) {
      if (!ctx.alive()) return;
      replace(result, h('p', { class: 'form-error', role: 'alert', id: 'acs-record-error' }, describe(e)));
    }
  });
  return section('Records', { id: 'acs-records' },
    h('p', {}, "A record holds a holder's (or the operator's) fields. Its storage proof is checked in your browser against the block's state root."),
    form, result);
}

function queryForm(ctx, pkg, contracts, operator) {
  const contract = h('select', { id: 'acs-query-contract' },
    contracts.map((c) => h('option', { value: c.name }, `${c.name} (${c.role})`)));
  const record = h('input', { id: 'acs-query-record', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: '0x…', class: 'wide' });
  const result = h('div', { id: 'acs-query-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'inline-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'acs-query-contract' }, 'Contract'), contract),
    h('div', { class: 'field' }, h('label', { for: 'acs-query-record' }, 'On record'), record),
    h('button', { type: 'submit', id: 'acs-query-run' }, 'Run query'),
    fillButton(record, operator));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = contract.value;
    const address = record.value.trim().toLowerCase();
    if (!isContractName(name) || !isAddress(address)) {
      replace(result, h('p', { class: 'form-error', role: 'alert' }, 'Choose a contract and give a record address (0x and 40 hex digits).'));
      return;
    }
    replace(result, loadingNote('Running…'));
    try {
      const q = await get(`/v1/acs/packages/${seg(pkg)}/query?contract=${encodeURIComponent(name)}&record=${seg(address)}`, { signal: ctx.signal });
      replace(result, h('p', {}, 'Returned: ', h('code', { id: 'acs-query-return' }, q.return === null || q.return === undefined ? 'nothing (the contract set no return value)' : String(q.return))));
    } catch (e) {
      if (ctx.alive()) replace(result, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
    }
  });
  return section('Query a contract', { id: 'acs-query' },
    h('p', {}, 'Runs a contract on a record against the head state and shows what it returns. It writes nothing and sends no transaction.'),
    contracts.length ? form : h('p', { class: 'muted' }, 'The package has no contracts.'), result);
}

function jobsSection(ctx, pkg) {
  const jobs = table({
    id: 'acs-jobs',
    caption: `The latest runs of the schedule, newest first (at most ${JOB_RUNS})`,
    head: ['Block', 'Time (UTC)', 'Contract', 'Record', 'Status', 'Late by', 'Gas'],
  });
  const empty = h('p', { class: 'muted', id: 'acs-jobs-empty' });
  let last = 0;
  const load = async () => {
    if (focusWithin(jobs.wrap)) return;
    last = Date.now();
    try {
      const data = await get(`/v1/acs/packages/${seg(pkg)}/jobs?limit=${JOB_RUNS}`, { signal: ctx.signal });
      const runs = (Array.isArray(data.runs) ? data.runs : []).slice().reverse();
      replace(jobs.body, runs.map((r) => h('tr', { dataset: { block: r.block, status: r.status } },
        h('th', { scope: 'row' }, link(['block', r.block], String(r.block))),
        h('td', {}, time(r.time_ms)),
        h('td', {}, h('code', {}, String(r.contract))),
        h('td', {}, link(['account', r.record], h('code', {}, short(r.record)), { title: String(r.record) })),
        h('td', {}, h('span', { class: r.status === 'ok' ? 'status ok' : 'status bad' }, String(r.status)), r.error ? h('div', { class: 'small' }, String(r.error)) : null),
        h('td', { class: 'num' }, `${r.late_blocks} block(s)`),
        h('td', { class: 'num' }, String(r.gas_used)))));
      jobs.wrap.hidden = runs.length === 0;
      empty.textContent = runs.length === 0 ? 'No scheduled runs yet.' : '';
    } catch (e) {
      if (ctx.alive()) empty.textContent = `Could not read the runs: ${describe(e)}`;
    }
  };
  ctx.heads(() => { if (Date.now() - last >= JOBS_REFRESH_MS) load(); }, load);
  load();
  return section('Scheduled runs', { id: 'acs-jobs-section' }, empty, jobs.wrap);
}

export default async function acs(ctx) {
  const pkg = ctx.params[0];
  if (pkg === undefined) {
    ctx.title('Contracts');
    ctx.main.replaceChildren(
      heading('Contracts'),
      section('Open a package', {},
        h('p', {}, 'ACS contract packages are deployed by transactions (from the ', h('a', { href: '#/wallet' }, 'wallet'), ', or ', h('code', {}, 'cairn acs deploy'), '). There is no list of packages: open one by its address to see its contracts, records and scheduled runs.'),
        openForm()));
    return;
  }
  ctx.title('Package');
  if (!isAddress(pkg)) {
    ctx.main.replaceChildren(heading('Package'), openForm(pkg));
    ctx.showError(new Error(`"${pkg}" is not a package address (0x and 40 hex digits).`));
    return;
  }
  const address = pkg.toLowerCase();
  ctx.title(`Package ${short(address)}`);
  const details = h('section', { id: 'acs-package', class: 'card' }, h('h2', {}, 'Package'), loadingNote());
  ctx.main.replaceChildren(
    heading('Package ', h('code', { class: 'title-hash' }, short(address))),
    h('div', { class: 'card compact' }, openForm()),
    details);
  let p;
  try {
    p = await get(`/v1/acs/packages/${seg(address)}`, { signal: ctx.signal });
  } catch (e) {
    details.remove();
    if (e instanceof ApiError && e.status === 404) {
      ctx.main.append(h('p', {}, 'Perhaps it is a plain account: ', link(['account', address], `open account ${short(address)}`), '.'));
    }
    throw e;
  }
  replace(details, h('h2', {}, 'Package'), packageDetails(p));
  const contracts = Array.isArray(p.contracts) ? p.contracts : [];
  ctx.main.append(
    recordLookup(ctx, address, p.operator),
    queryForm(ctx, address, contracts, p.operator),
    jobsSection(ctx, address));
}
