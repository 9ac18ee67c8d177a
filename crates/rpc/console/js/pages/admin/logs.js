// #/admin/logs — the node's recent log lines (it keeps the last 10,000), newest first:
// search by text and level, and page back with "older".

import { admin } from '../../api.js';
import { h, replace } from '../../dom.js';
import { utc } from '../../format.js';
import { loadingNote, section } from '../../page.js';
import { adminError, adminPage, clearForbidden } from './session.js';

const PAGE = 200;
const LEVELS = [['', 'any level'], ['error', 'error'], ['warn', 'warn and worse'], ['info', 'info and worse'], ['debug', 'debug and worse'], ['trace', 'trace (all)']];

function line(l) {
  const level = String(l.level || '').toUpperCase();
  return h('li', { dataset: { seq: l.seq, level } },
    h('span', { class: 'log-time' }, utc(l.at_ms)), ' ',
    h('span', { class: `log-level level-${level.toLowerCase().replace(/[^a-z]/g, '')}` }, level.padEnd(5, ' ')), ' ',
    h('span', { class: 'log-target' }, String(l.target)), ' ',
    h('span', { class: 'log-text' }, String(l.text)));
}

export default async function logs(ctx) {
  const page = await adminPage(ctx, 'Logs');
  if (!page) return;
  const { content } = page;
  const query = h('input', { id: 'log-query', type: 'search', autocomplete: 'off', spellcheck: 'false', maxlength: '256' });
  const level = h('select', { id: 'log-level' }, LEVELS.map(([value, label]) => h('option', { value }, label)));
  const search = h('button', { type: 'submit', id: 'log-search' }, 'Search');
  const form = h('form', { id: 'log-form', class: 'inline-form', role: 'search', 'aria-label': 'Log', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'log-query' }, 'Text (in the message or module)'), query),
    h('div', { class: 'field' }, h('label', { for: 'log-level' }, 'Level'), level),
    search);
  // Focusable, so keyboard users can scroll it.
  const list = h('ol', { id: 'logs', class: 'log', tabindex: '0', 'aria-label': 'Log lines, newest first' });
  const summary = h('p', { id: 'logs-summary', class: 'muted', role: 'status' });
  const older = h('button', { type: 'button', id: 'logs-older', class: 'secondary', hidden: true }, 'Older lines');
  replace(content, section('Search the log', {}, form), section('Lines, newest first', {}, summary, list, older));

  let criteria = { q: '', level: '' };
  let oldest = null;
  let count = 0;

  async function fetchLines(before) {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (criteria.q) params.set('q', criteria.q);
    if (criteria.level) params.set('level', criteria.level);
    if (before !== null) params.set('before', String(before));
    const data = await admin.get(`/v1/admin/logs?${params}`, { signal: ctx.signal });
    return Array.isArray(data.lines) ? data.lines : [];
  }

  async function run(more) {
    clearForbidden();
    search.disabled = true;
    older.disabled = true;
    if (!more) {
      replace(list);
      replace(summary, loadingNote('Searching…'));
      count = 0;
      oldest = null;
    }
    try {
      const lines = await fetchLines(more ? oldest : null);
      lines.forEach((l) => list.append(line(l)));
      count += lines.length;
      if (lines.length) oldest = lines[lines.length - 1].seq;
      older.hidden = lines.length < PAGE;
      summary.textContent = count === 0 ? 'No matching lines.' : `${count} line(s) shown${older.hidden ? ', back to the oldest kept' : ''}.`;
      ctx.clearError();
    } catch (e) {
      summary.textContent = '';
      adminError(ctx, e);
    } finally {
      search.disabled = false;
      older.disabled = false;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    criteria = { q: query.value.trim(), level: level.value };
    run(false);
  });
  older.addEventListener('click', () => run(true));
  await run(false);
}
