// What every page uses: its context (lifetime, title, timers, subscriptions) and the shared
// pieces of page UI (heading, loading note, the #error box).

import { ApiError } from './api.js';
import { h } from './dom.js';
import { followTransaction } from './follow.js';
import { subscribeHeads } from './ws.js';

/**
 * A page's context. Everything started through it (timers, subscriptions, fetches with its
 * signal) ends when the reader leaves the page, so a late answer never writes into the next
 * page.
 */
export function createContext(main, params, query) {
  const controller = new AbortController();
  const cleanups = [];
  const ctx = {
    main,
    params,
    query,
    signal: controller.signal,
    alive: () => !controller.signal.aborted,
    onCleanup: (fn) => cleanups.push(fn),
    title(text) {
      document.title = text ? `${text} · Cairn console` : 'Cairn console';
    },
    /** Runs `fn` every `ms` while the page is open. */
    every(ms, fn) {
      const id = setInterval(() => ctx.alive() && fn(), ms);
      cleanups.push(() => clearInterval(id));
    },
    /** Runs `fn` once after `ms`, unless the page was left. */
    later(ms, fn) {
      const id = setTimeout(() => ctx.alive() && fn(), ms);
      cleanups.push(() => clearTimeout(id));
    },
    /** Committed heads while the page is open; `onResync` after a gap. */
    heads(onHead, onResync) {
      const stop = subscribeHeads(
        (head) => ctx.alive() && onHead(head),
        () => ctx.alive() && onResync && onResync(),
      );
      cleanups.push(stop);
      return stop;
    },
    /** Follows a transaction while the page is open (see follow.js). */
    follow(hash, handlers) {
      const stop = followTransaction(hash, { ...handlers, signal: controller.signal });
      cleanups.push(stop);
      return stop;
    },
    /** Shows `error` in #error (unless a hook already handled it). */
    showError(error, where) {
      if (!ctx.alive() || (error && error.handled)) return;
      if (error && error.name === 'AbortError') return;
      showError(error, where || main);
    },
    clearError,
    dispose() {
      controller.abort();
      for (const fn of cleanups.splice(0)) {
        try {
          fn();
        } catch (e) {
          console.error('a page cleanup failed', e);
        }
      }
    },
  };
  return ctx;
}

/** The page's heading; focused after navigation so screen readers start there. */
export function heading(text, ...extra) {
  return h('h1', { tabindex: '-1' }, text, ...extra);
}

/** A polite "Loading…" note. */
export function loadingNote(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

function messageOf(error) {
  if (error instanceof ApiError) return error.message;
  if (error && error.message) return error.message;
  return String(error);
}

/** Builds an alert box: `<div id=… role=alert>`. */
export function alertBox(id, message, extra) {
  return h('div', { id, role: 'alert', class: 'alert error' }, h('p', {}, message), extra);
}

/** Puts `error` in the page's #error box (one at a time), after the heading of `where`. */
export function showError(error, where) {
  clearError();
  const code = error instanceof ApiError && error.code && error.status ? ` (${error.status} ${error.code})` : '';
  const box = alertBox('error', messageOf(error), code ? h('p', { class: 'muted small' }, `The node answered${code}.`) : null);
  const container = where || document.getElementById('main');
  const title = container.querySelector('h1');
  if (title && title.parentNode === container) title.after(box);
  else container.prepend(box);
  return box;
}

/** Removes the #error box, if any. */
export function clearError() {
  const box = document.getElementById('error');
  if (box) box.remove();
}

/** A section with a heading (h2) and content. */
export function section(title, attrs, ...children) {
  return h('section', { class: 'card', ...attrs }, h('h2', {}, title), ...children);
}

/**
 * Whether the reader's focus is inside `el`: a refresh then waits, so that re-rendering never
 * pulls focus from under a keyboard user.
 */
export function focusWithin(el) {
  return Boolean(el && document.activeElement && el !== document.activeElement && el.contains(document.activeElement));
}
