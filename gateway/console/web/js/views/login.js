// views/login.js: the sign-in form. On success ctx.onLogin() loads the
// user and opens the app; the API's error message is shown as text.
import { h, text } from '../dom.js';

export function render(ctx) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, 'data-test': 'login-email', id: 'login-email' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, 'data-test': 'login-password', id: 'login-password' });
  const error = h('p', { class: 'error', role: 'alert', 'data-test': 'login-error', hidden: true });
  const submit = h('button', { type: 'submit', 'data-test': 'login-submit' }, 'Sign in');
  const form = h('form', { class: 'login-form', 'data-test': 'login-form', novalidate: true, on: { submit: onSubmit } },
    h('h1', {}, 'Agent console'),
    h('label', { for: 'login-email' }, 'E-mail'), email,
    h('label', { for: 'login-password' }, 'Password'), password,
    error, submit);

  async function onSubmit(ev) {
    ev.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      await ctx.api.login(email.value.trim(), password.value);
      password.value = '';
      await ctx.onLogin();
    } catch (e) {
      text(error, e.text || e.message);
      error.hidden = false;
      submit.disabled = false;
      password.focus();
    }
  }

  queueMicrotask(() => email.focus());
  return h('div', { class: 'login' }, form);
}
