// #/admin/users — users and their roles (admin only): add, change role, reset password,
// delete (in two steps). Passwords are sent once and never shown back or kept.

import { ApiError, admin, seg } from '../../api.js';
import { h, link, replace, table } from '../../dom.js';
import { time } from '../../format.js';
import { loadingNote, section } from '../../page.js';
import { adminError, adminPage, clearForbidden } from './session.js';

const ROLES = ['viewer', 'operator', 'admin'];

function roleSelect(current, attrs) {
  return h('select', attrs, ROLES.map((role) => h('option', { value: role, selected: role === current }, role)));
}

/** The message area: role=alert for errors (naming the field the API names), else status. */
function say(el, text, kind) {
  replace(el, text ? h('p', { role: kind === 'error' ? 'alert' : 'status', class: kind === 'error' ? 'form-error' : 'form-ok' }, text) : null);
}

function errorText(error) {
  if (error instanceof ApiError && error.field) return `${error.field}: ${error.message}`;
  return error.message || String(error);
}

export default async function users(ctx) {
  const page = await adminPage(ctx, 'Users');
  if (!page) return;
  const { me, content } = page;
  const myName = me.user.name;
  const message = h('div', { id: 'users-message', 'aria-live': 'polite' });
  const list = table({
    id: 'users',
    caption: 'Users of this node',
    head: ['Name', 'Role', 'Created', 'Password changed', 'Actions'],
  });
  const listHolder = h('div', {}, loadingNote());

  /** Runs an admin call for a row; reports in #users-message; reloads on success. */
  async function act(work, done) {
    clearForbidden();
    say(message, '');
    try {
      await work();
      say(message, done, 'ok');
      await load();
    } catch (e) {
      if (e.handled || !ctx.alive()) return;
      if (e instanceof ApiError && e.status === 403) adminError(ctx, e);
      else say(message, errorText(e), 'error');
    }
  }

  function row(user) {
    const name = String(user.name);
    const select = roleSelect(user.role, { class: 'user-role', 'aria-label': `Role of ${name}` });
    const setRole = h('button', { type: 'button', class: 'set-role small' }, 'Set role');
    setRole.addEventListener('click', () => act(
      () => admin.put(`/v1/admin/users/${seg(name)}/role`, { json: { role: select.value }, signal: ctx.signal }),
      `${name} now has the ${select.value} role; their sessions have ended.`));

    const remove = h('button', { type: 'button', class: 'delete-user danger small' }, 'Delete');
    const cancel = h('button', { type: 'button', class: 'cancel-delete secondary small', hidden: true }, 'Cancel');
    remove.addEventListener('click', () => {
      if (remove.dataset.confirming !== 'true') {
        // First step: ask. The same button confirms; Cancel backs out.
        remove.dataset.confirming = 'true';
        remove.classList.add('confirm-delete');
        remove.textContent = `Confirm: delete ${name}`;
        cancel.hidden = false;
        return;
      }
      act(() => admin.del(`/v1/admin/users/${seg(name)}`, { signal: ctx.signal }), `Deleted ${name}; their sessions have ended.`);
    });
    cancel.addEventListener('click', () => {
      delete remove.dataset.confirming;
      remove.classList.remove('confirm-delete');
      remove.textContent = 'Delete';
      cancel.hidden = true;
      remove.focus();
    });

    let reset;
    if (name === myName) {
      reset = link(['admin', 'password'], 'Change your password', { class: 'small' });
    } else {
      const input = h('input', { type: 'password', class: 'reset-password-input', autocomplete: 'new-password', 'aria-label': `New password for ${name}` });
      const save = h('button', { type: 'submit', class: 'reset-password-save small' }, 'Set password');
      const box = h('form', { class: 'reset-box', hidden: true, novalidate: true }, input, save);
      const open = h('button', { type: 'button', class: 'reset-password secondary small', 'aria-expanded': 'false' }, 'Reset password');
      open.addEventListener('click', () => {
        box.hidden = !box.hidden;
        open.setAttribute('aria-expanded', String(!box.hidden));
        if (!box.hidden) input.focus();
      });
      box.addEventListener('submit', (event) => {
        event.preventDefault();
        const password = input.value;
        input.value = '';
        act(() => admin.put(`/v1/admin/users/${seg(name)}/password`, { json: { password }, signal: ctx.signal }),
          `Set a new password for ${name}; their sessions have ended.`);
      });
      reset = [open, ' ', box];
    }
    return h('tr', { dataset: { user: name } },
      h('th', { scope: 'row' }, name, name === myName ? h('span', { class: 'badge' }, 'you') : null),
      h('td', {}, h('span', { class: 'user-role-now' }, String(user.role)), ' ', select, ' ', setRole),
      h('td', {}, time(user.created_ms)),
      h('td', {}, time(user.password_changed_ms)),
      h('td', { class: 'row-actions' }, reset, ' ', remove, ' ', cancel));
  }

  async function load() {
    try {
      const data = await admin.get('/v1/admin/users', { signal: ctx.signal });
      const all = Array.isArray(data.users) ? data.users : [];
      replace(list.body, all.map(row));
      replace(listHolder, list.wrap);
    } catch (e) {
      replace(listHolder);
      adminError(ctx, e);
    }
  }

  // Adding a user.
  const name = h('input', { id: 'user-name', type: 'text', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'user-name-help' });
  const role = roleSelect('viewer', { id: 'user-role' });
  const password = h('input', { id: 'user-password', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'user-password-help' });
  const add = h('button', { type: 'submit', id: 'user-add' }, 'Add user');
  const form = h('form', { id: 'user-add-form', class: 'inline-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'user-name' }, 'Name'), name,
      h('p', { id: 'user-name-help', class: 'muted small' }, '1 to 64 of A-Z a-z 0-9 _ . -')),
    h('div', { class: 'field' }, h('label', { for: 'user-role' }, 'Role'), role),
    h('div', { class: 'field' }, h('label', { for: 'user-password' }, 'Password'), password,
      h('p', { id: 'user-password-help', class: 'muted small' }, '8 to 256 characters.')),
    add);
  const inputs = { name, role, password };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    Object.values(inputs).forEach((el) => el.removeAttribute('aria-invalid'));
    clearForbidden();
    add.disabled = true;
    const body = { name: name.value.trim(), role: role.value, password: password.value };
    password.value = '';
    try {
      await admin.post('/v1/admin/users', { json: body, signal: ctx.signal });
      say(message, `Added ${body.name} as ${body.role}.`, 'ok');
      name.value = '';
      await load();
    } catch (e) {
      if (e.handled || !ctx.alive()) return;
      if (e instanceof ApiError && e.status === 403) {
        adminError(ctx, e);
      } else {
        say(message, errorText(e), 'error');
        const bad = inputs[e.field];
        if (bad) {
          bad.setAttribute('aria-invalid', 'true');
          bad.focus();
        }
      }
    } finally {
      add.disabled = false;
    }
  });

  replace(content,
    message,
    section('Users', {}, h('p', { class: 'muted' }, 'Changing a role or password, or deleting a user, ends their sessions. The last admin can be neither deleted nor given another role.'), listHolder),
    section('Add a user', {}, form));
  await load();
}
