// ACS decimals: 18 decimal places in an i128, written in plain notation ("51.9", "-0.05").

const SCALE = 18n;
const ONE = 10n ** SCALE;
const I128_MIN = -(1n << 127n);
const I128_MAX = (1n << 127n) - 1n;

/**
 * Units (value × 10^18, a BigInt) of a decimal in plain notation: an optional "-", digits,
 * and optionally "." and 1 to 18 digits. Throws a readable Error otherwise, or when the value
 * does not fit an i128.
 */
export function parseDecimal(text) {
  if (typeof text !== 'string') throw new Error('not a decimal');
  const match = /^(-?)([0-9]+)(?:\.([0-9]{1,18}))?$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a decimal such as 900, 0.05 or -1.5 (at most 18 decimal places)`);
  const [, sign, whole, fraction = ''] = match;
  let units = BigInt(whole) * ONE + BigInt(fraction.padEnd(18, '0'));
  if (sign) units = -units;
  if (units < I128_MIN || units > I128_MAX) throw new Error(`"${text}" is out of range`);
  return units;
}
