// Display helpers. Times are shown in UTC (consortium members sit in different time zones;
// UTC reads the same to all of them) with the reader's local time in the tooltip.

import { h } from './dom.js';

/** "0x123456…abcdef" for a long hex string; anything else as a string. */
export function short(hex, keep = 6) {
  const text = String(hex ?? '');
  return text.length > 3 + 2 * keep ? `${text.slice(0, 2 + keep)}…${text.slice(-keep)}` : text;
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

/** "2026-02-01 12:00:03 UTC" for ms since the epoch. */
export function utc(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n)) return '—';
  const d = new Date(n);
  if (Number.isNaN(d.getTime())) return '—';
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** A <time> element for ms since the epoch. */
export function time(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n) || n <= 0) return h('span', {}, '—');
  const d = new Date(n);
  // Beyond what a Date can hold (a u64 from the API can be): shown as unknown, never thrown.
  if (Number.isNaN(d.getTime())) return h('span', {}, '—');
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, utc(n));
}

/** "3 d 4 h", "12 min 5 s", "8 s" for a number of seconds. */
export function duration(seconds) {
  let s = Math.max(0, Math.floor(Number(seconds) || 0));
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)} ${unit}`);
      s %= size;
    }
  }
  if (parts.length < 2) parts.push(`${s} s`);
  return parts.slice(0, 2).join(' ');
}

/** "5 s ago" for a moment `ms` in the past (relative to this computer's clock). */
export function ago(ms) {
  const seconds = Math.round((Date.now() - Number(ms)) / 1000);
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 1) return 'just now';
  return `${duration(seconds)} ago`;
}

/** Digits grouped by thin spaces for reading ("1 000 000"); the plain digits go in data. */
export function grouped(digits) {
  const text = String(digits);
  // Only what a u128 can be: the grouping is quadratic, and a hostile answer may be long.
  if (!/^\d{1,40}$/.test(text)) return text;
  return text.replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

/** A value of an unknown type from the API, as text. */
export function text(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** "yes"/"no". */
export const yesNo = (value) => (value ? 'yes' : 'no');
