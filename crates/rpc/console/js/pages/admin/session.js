// What every admin page shares: the session check (GET /v1/admin/me), the admin bar (sub-
// navigation, who is logged in, log out), and what happens on 401 (to the login page, saying
// why) and 403 (stay, and say what is not allowed in #forbidden).
//
// The session lives in the HttpOnly cookie the login set: the console never sees or keeps
// its token, and never keeps a password.

import { ApiError, admin, setUnauthorizedHandler } from '../../api.js';
import { h } from '../../dom.js';
import { alertBox, heading } from '../../page.js';

const LINKS = [
  ['#/admin', 'Node'],
  ['#/admin/users', 'Users'],
  ['#/admin/sessions', 'Sessions'],
  ['#/admin/audit', 'Audit'],
  ['#/admin/logs', 'Logs'],
  ['#/admin/pool', 'Pool'],
  ['#/admin/password', 'Password'],
];

// Why the login page is shown: 'ended' (a 401), 'password' (changed), 'logout'. Kept in
// memory only, for the next render of the login page.
let notice = null;

/** The reason set for the login page, once. */
export function takeNotice() {
  const taken = notice;
  notice = null;
  return taken;
}

/** Goes to the login page, saying why. */
export function toLogin(reason) {
  notice = reason;
  if (location.hash !== '#/admin/login') location.replace('#/admin/login');
}

// Any admin call answered 401 means the session ended (expired, revoked, logged out
// elsewhere): log in again.
setUnauthorizedHandler((error) => {
  error.handled = true;
  toLogin('ended');
});

/** Shows `error`: nothing for a handled 401, #forbidden for a 403, #error otherwise. */
export function adminError(ctx, error) {
  if (!ctx.alive() || !error || error.handled || error.name === 'AbortError') return;
  if (error instanceof ApiError && error.status === 403) {
    showForbidden(ctx, error.message);
    return;
  }
  ctx.showError(error);
}

/** Puts `message` in the #forbidden alert, after the page heading. */
export function showForbidden(ctx, message) {
  document.getElementById('forbidden')?.remove();
  // The API says which role a route needs ("this needs the admin role; …"): then say how to
  // get it. Other refusals (a wrong current password) speak for themselves.
  const hint = /\brole\b/.test(message) ? h('p', { class: 'muted small' }, 'An admin can change roles on the Users page.') : null;
  const box = alertBox('forbidden', message, hint);
  const title = ctx.main.querySelector('h1');
  if (title) title.after(box);
  else ctx.main.prepend(box);
}

export function clearForbidden() {
  document.getElementById('forbidden')?.remove();
}

function adminBar(ctx, me) {
  const current = location.hash.split('?')[0] || '#/admin';
  const logout = h('button', { type: 'button', id: 'logout', class: 'secondary small' }, 'Log out');
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try {
      await admin.post('/v1/admin/logout');
      toLogin('logout');
    } catch (e) {
      logout.disabled = false;
      adminError(ctx, e);
    }
  });
  const name = me && me.user ? `${me.user.name} (${me.user.role})` : '';
  return h('div', { class: 'admin-bar' },
    h('nav', { 'aria-label': 'Admin' }, h('ul', {}, LINKS.map(([href, label]) =>
      h('li', {}, h('a', { href, 'aria-current': href === current ? 'page' : null }, label))))),
    h('div', { class: 'who' }, h('span', { class: 'muted small' }, 'Logged in as '), h('strong', { id: 'whoami' }, name), ' ', logout));
}

/**
 * Starts an admin page: checks the session (a 401 goes to the login page), draws the admin
 * bar and the heading, and returns `{me, content}`, or null when the page cannot be shown.
 */
export async function adminPage(ctx, title) {
  ctx.title(`Admin: ${title}`);
  let me;
  try {
    me = await admin.get('/v1/admin/me', { signal: ctx.signal });
  } catch (error) {
    if (error.handled || !ctx.alive()) return null;
    ctx.main.replaceChildren(heading(title));
    adminError(ctx, error);
    return null;
  }
  if (!ctx.alive()) return null;
  const content = h('div', { id: 'admin-content' });
  ctx.main.replaceChildren(adminBar(ctx, me), heading(title), content);
  return { me, content };
}

/** Whether the caller's role allows `required` (viewer < operator < admin). */
export function roleAllows(me, required) {
  const rank = { viewer: 0, operator: 1, admin: 2 };
  return (rank[me?.user?.role] ?? -1) >= rank[required];
}
