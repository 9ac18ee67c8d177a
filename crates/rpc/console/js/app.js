// The console's entry point: the hash router, the header (navigation, search, live status)
// and the lifetime of pages. Every page has a stable address (#/block/12, #/tx/0x…); back,
// forward and reload work because the hash alone decides what is shown.

import { ApiError, get, seg } from './api.js';
import { isAddress, isHash } from './hex.js';
import { createContext, heading, loadingNote, showError } from './page.js';
import { chainSocket } from './ws.js';

const main = document.getElementById('main');

// [pattern, module, nav section]; captured groups become the page's params.
const ROUTES = [
  [/^\/$/, './pages/explorer.js', 'explorer'],
  [/^\/block\/([^/]+)$/, './pages/block.js', 'explorer'],
  [/^\/tx\/([^/]+)$/, './pages/tx.js', 'explorer'],
  [/^\/account\/([^/]+)$/, './pages/account.js', 'explorer'],
  [/^\/validators$/, './pages/validators.js', 'validators'],
  [/^\/network$/, './pages/network.js', 'network'],
  [/^\/cluster$/, './pages/cluster.js', 'cluster'],
  [/^\/acs$/, './pages/acs.js', 'acs'],
  [/^\/acs\/([^/]+)$/, './pages/acs.js', 'acs'],
  [/^\/wallet$/, './pages/wallet.js', 'wallet'],
  [/^\/admin\/login$/, './pages/admin/login.js', 'admin'],
  [/^\/admin$/, './pages/admin/node.js', 'admin'],
  [/^\/admin\/users$/, './pages/admin/users.js', 'admin'],
  [/^\/admin\/sessions$/, './pages/admin/sessions.js', 'admin'],
  [/^\/admin\/audit$/, './pages/admin/audit.js', 'admin'],
  [/^\/admin\/logs$/, './pages/admin/logs.js', 'admin'],
  [/^\/admin\/pool$/, './pages/admin/pool.js', 'admin'],
  [/^\/admin\/password$/, './pages/admin/password.js', 'admin'],
];

let current = null;
let firstRender = true;

/** The route in the hash: {path, query}, or null for an in-page anchor such as #main. */
function parseHash() {
  const raw = location.hash.slice(1);
  if (raw === '' || raw === '/') return { path: '/', query: new URLSearchParams() };
  if (!raw.startsWith('/')) return null;
  const [path, query = ''] = raw.split('?', 2);
  return { path: path.length > 1 ? path.replace(/\/+$/, '') : path, query: new URLSearchParams(query) };
}

function match(path) {
  for (const [pattern, module, section] of ROUTES) {
    const found = pattern.exec(path);
    if (found) {
      let params;
      try {
        params = found.slice(1).map(decodeURIComponent);
      } catch {
        return null; // a malformed %-escape: no page has that address
      }
      return { module, section, params };
    }
  }
  return null;
}

function markNav(section) {
  for (const a of document.querySelectorAll('.site-nav a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function notFound(ctx, path) {
  ctx.title('Not found');
  main.replaceChildren(
    heading('Page not found'),
    Object.assign(document.createElement('p'), { textContent: `There is no page at #${path}.` }),
    Object.assign(document.createElement('p'), { className: 'muted', textContent: 'Use the navigation above, or search for a block, transaction or address.' }),
  );
}

async function render() {
  let parsed = parseHash();
  if (!parsed) {
    // An in-page anchor (#main): keep the page shown, or show the home page on a first load.
    if (current) return;
    parsed = { path: '/', query: new URLSearchParams() };
  }
  if (current) current.dispose();
  const found = match(parsed.path);
  const ctx = createContext(main, found ? found.params : [], parsed.query);
  current = ctx;
  markNav(found ? found.section : null);
  setSearchMessage('');
  main.setAttribute('aria-busy', 'true');
  main.replaceChildren(loadingNote());
  try {
    if (!found) notFound(ctx, parsed.path);
    else {
      const page = await import(found.module);
      if (ctx.alive()) await page.default(ctx);
    }
  } catch (error) {
    if (ctx.alive() && !(error && error.handled)) {
      if (!main.querySelector('h1')) main.replaceChildren(heading('Something went wrong'));
      showError(error, main);
      if (!(error instanceof ApiError)) console.error(error); // a bug, not an answer
    }
  } finally {
    if (ctx.alive()) main.removeAttribute('aria-busy');
  }
  // After a navigation (not the first load) focus moves to the new page's heading.
  if (ctx.alive() && !firstRender) {
    const title = main.querySelector('h1');
    (title || main).focus({ preventScroll: false });
  }
  firstRender = false;
}

// ---- search -------------------------------------------------------------------------------

function setSearchMessage(text) {
  const box = document.getElementById('search-message');
  box.textContent = text;
  box.classList.toggle('shown', Boolean(text));
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** Where a search leads: a height, a hash (transaction, else block) or an address. */
async function search(input) {
  let q = input.trim();
  if (/^[0-9a-fA-F]{64}$/.test(q) || /^[0-9a-fA-F]{40}$/.test(q)) q = `0x${q}`;
  if (/^[0-9]+$/.test(q)) {
    const height = BigInt(q);
    if (height >= 1n << 64n) return setSearchMessage('That height is beyond any block.');
    return go(`#/block/${height}`);
  }
  if (isHash(q)) {
    const hash = q.toLowerCase();
    setSearchMessage('Searching…');
    const tx = await get(`/v1/transactions/${seg(hash)}`).catch((e) => e);
    if (tx instanceof Error && tx.status !== 404) return setSearchMessage(tx.message);
    if (!(tx instanceof Error) && tx && tx.status !== 'unknown') return go(`#/tx/${hash}`);
    return go(`#/block/${hash}`);
  }
  if (isAddress(q)) {
    const address = q.toLowerCase();
    setSearchMessage('Searching…');
    try {
      await get(`/v1/acs/packages/${seg(address)}`);
      return go(`#/acs/${address}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return go(`#/account/${address}`);
      return setSearchMessage(e.message);
    }
  }
  setSearchMessage(q === ''
    ? 'Type a block height, a hash or an address to search.'
    : 'Not something to search for: enter a block height (digits), a block or transaction hash (0x and 64 hex digits) or an address (0x and 40 hex digits).');
}

document.getElementById('search').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('search-input');
  const button = event.currentTarget.querySelector('button');
  button.disabled = true;
  try {
    await search(input.value);
  } catch (e) {
    setSearchMessage(e.message || String(e));
  } finally {
    button.disabled = false;
  }
});

// ---- header -------------------------------------------------------------------------------

const LIVE_TEXT = { open: 'Live', connecting: 'Connecting…', retrying: 'Reconnecting…', idle: '' };
chainSocket.onState((state) => {
  const el = document.getElementById('live-status');
  el.dataset.state = state;
  el.textContent = LIVE_TEXT[state] ?? '';
});

// The skip link moves focus to the content without touching the route in the hash.
document.querySelector('a.skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

get('/v1/status').then((status) => {
  const version = status && typeof status.version === 'string' ? status.version : '';
  document.getElementById('footer-version').textContent = version ? `node ${version}` : '';
}).catch(() => {});

window.addEventListener('hashchange', render);
render();
