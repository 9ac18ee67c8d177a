// A tiny element builder. Text always goes in as text nodes, never as HTML, so API values
// (which may hold anything) cannot inject markup: there is no innerHTML anywhere in the
// console, so no HTML string is ever built and nothing needs escaping.

const BOOLEAN = new Set(['hidden', 'disabled', 'required', 'checked', 'selected', 'readonly', 'multiple', 'open', 'reversed', 'novalidate']);

function safeUrl(value) {
  const url = String(value);
  // Routes and same-origin paths only: nothing the API returns can become a javascript: link.
  // Browsers read a backslash as a slash and drop tabs and newlines, so `/\evil` would leave.
  if (/[\\\u0000-\u001f\u007f]/.test(url)) throw new Error(`refusing a link to ${url}`);
  if (url.startsWith('#') || (url.startsWith('/') && !url.startsWith('//'))) return url;
  throw new Error(`refusing a link to ${url}`);
}

/**
 * `h('a', {href: '#/x', class: 'c', dataset: {tx: '0x…'}, onClick: fn}, 'text', child…)`.
 * Children may be strings, numbers, bigints, nodes, arrays of them, or null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else if (key === 'dataset') Object.entries(value).forEach(([k, v]) => { if (v !== undefined && v !== null) el.dataset[k] = String(v); });
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'href') el.setAttribute('href', safeUrl(value));
    else if (key === 'value') el.value = String(value);
    else if (BOOLEAN.has(key)) el.toggleAttribute(key, Boolean(value));
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (see `h`) to `el`. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A route link: `link(['block', 12], '12')` → <a href="#/block/12">12</a>. */
export function link(parts, text, attrs = {}) {
  return h('a', { href: route(parts), ...attrs }, text);
}

/** The hash of a route, each part URI-encoded. */
export function route(parts) {
  return `#/${[parts].flat().map((p) => encodeURIComponent(String(p))).join('/')}`;
}

/** A table in a horizontally scrolling, keyboard-focusable wrapper. */
export function table({ id, caption, head, rows = [], className, captionHidden = false }) {
  const body = h('tbody', {}, rows);
  const el = h('table', { id, class: className },
    caption ? h('caption', { class: captionHidden ? 'visually-hidden' : null }, caption) : null,
    h('thead', {}, h('tr', {}, head.map((label) => h('th', { scope: 'col' }, label)))),
    body);
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || 'table' }, el);
  return { wrap, table: el, body };
}

/** A <dl> of label → value pairs (values may be nodes); pairs with value undefined are skipped. */
export function facts(pairs, attrs = {}) {
  return h('dl', { class: 'facts', ...attrs },
    pairs.filter(([, value]) => value !== undefined).map(([label, value, ddAttrs = {}]) => [
      h('dt', {}, label),
      h('dd', ddAttrs, value),
    ]));
}

/** A button that copies `text` to the clipboard, saying so for screen readers. */
export function copyButton(text, label = 'Copy') {
  const button = h('button', { type: 'button', class: 'copy small' }, label);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}
