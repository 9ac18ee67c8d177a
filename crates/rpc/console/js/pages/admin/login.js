// #/admin/login — logging in to the admin pages. The node answers with the session in an
// HttpOnly cookie (and the token in the body, which the console does not even read).

import { ApiError, post } from '../../api.js';
import { h, replace } from '../../dom.js';
import { heading, section } from '../../page.js';
import { takeNotice } from './session.js';

const NOTICES = {
  ended: ['login-required', 'Your session has ended or you are not logged in; log in again.'],
  password: ['login-notice', 'Your password was changed, which ended your sessions. Log in with the new password.'],
  logout: ['login-notice', 'You have logged out.'],
};

function loginErrorText(error) {
  if (!(error instanceof ApiError)) return error.message || String(error);
  if (error.status === 401) return 'Wrong user name or password.';
  if (error.status === 429) return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`;
  if (error.status === 403) return `Not allowed from here: ${error.message}`;
  return error.field ? `${error.field}: ${error.message}` : error.message;
}

export default async function login(ctx) {
  ctx.title('Admin: log in');
  const notice = takeNotice();
  const user = h('input', { id: 'login-user', name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'off', spellcheck: 'false', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', id: 'login-submit' }, 'Log in');
  const errors = h('div', { id: 'login-errors' });
  const form = h('form', { id: 'login-form', class: 'stacked', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'login-user' }, 'User name'), user),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
    errors,
    h('div', { class: 'actions' }, submit));

  const showLoginError = (text) => replace(errors, h('p', { id: 'login-error', role: 'alert', class: 'form-error' }, text));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(errors);
    const name = user.value.trim();
    if (!name || !password.value) {
      showLoginError('Enter your user name and password.');
      (name ? password : user).focus();
      return;
    }
    submit.disabled = true;
    try {
      await post('/v1/admin/login', { json: { user: name, password: password.value }, discardBody: true, signal: ctx.signal });
      password.value = '';
      location.hash = '#/admin';
    } catch (e) {
      if (!ctx.alive()) return;
      password.value = '';
      showLoginError(loginErrorText(e));
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });

  const [id, text] = NOTICES[notice] || [];
  ctx.main.replaceChildren(
    heading('Log in to the admin pages'),
    id ? h('p', { id, class: 'note', role: 'status' }, text) : null,
    section('Log in', { class: 'card narrow' },
      h('p', { class: 'muted' }, 'Users are managed by an admin on the Users page (the first admin comes from ', h('code', {}, 'cairn admin init'), ', or the devnet prints one).'),
      form));
}
