// #/admin/password — change your own password. The node then ends all of your sessions,
// this one included, so the page goes to the login page.

import { ApiError, admin, seg } from '../../api.js';
import { h, replace } from '../../dom.js';
import { section } from '../../page.js';
import { adminError, adminPage, clearForbidden, toLogin } from './session.js';

export default async function password(ctx) {
  const page = await adminPage(ctx, 'Password');
  if (!page) return;
  const { me, content } = page;
  const current = h('input', { id: 'current-password', type: 'password', autocomplete: 'current-password' });
  const next = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'new-password-help' });
  const change = h('button', { type: 'submit', id: 'password-change' }, 'Change password');
  const message = h('div', { id: 'password-message' });
  const form = h('form', { id: 'password-form', class: 'stacked', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'current-password' }, 'Current password'), current),
    h('div', { class: 'field' }, h('label', { for: 'new-password' }, 'New password'), next,
      h('p', { id: 'new-password-help', class: 'muted small' }, '8 to 256 characters.')),
    message,
    h('div', { class: 'actions' }, change));
  const fail = (text) => replace(message, h('p', { id: 'password-error', class: 'form-error', role: 'alert' }, text));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearForbidden();
    replace(message);
    if (!current.value) return fail('Enter your current password.');
    if (next.value.length < 8) return fail('The new password must be at least 8 characters.');
    const body = { password: next.value, current_password: current.value };
    current.value = '';
    next.value = '';
    change.disabled = true;
    try {
      await admin.put(`/v1/admin/users/${seg(me.user.name)}/password`, { json: body, signal: ctx.signal });
      toLogin('password');
    } catch (e) {
      if (e.handled || !ctx.alive()) return;
      if (e instanceof ApiError && e.status === 403) adminError(ctx, e);
      else fail(e.field ? `${e.field}: ${e.message}` : e.message);
    } finally {
      change.disabled = false;
    }
  });
  replace(content, section(`Change the password of ${me.user.name}`, { class: 'card narrow' },
    h('p', { class: 'muted' }, 'Changing it ends all of your sessions, this one included: you then log in again with the new password.'),
    form));
}
