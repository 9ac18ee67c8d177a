// Reading the fields of an ACS `set` from a form: one NAME=DECIMAL per line, as the CLI's
// `cairn acs set FIELD=DECIMAL …` takes them.

import { parseDecimal } from './decimal.js';
import { LIMITS, isFieldName } from './tx.js';

export const decimalHelp = 'a decimal such as 900, 0.05 or -1.5, up to 18 decimal places';

/** [[name, units BigInt], …] from the lines of `text`; throws an Error naming the bad line. */
export function parseFieldLines(text) {
  const lines = String(text).split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  if (lines.length === 0) throw new Error('give at least one NAME=DECIMAL line');
  if (lines.length > LIMITS.maxSetFields) throw new Error(`${lines.length} fields; one set writes at most ${LIMITS.maxSetFields}`);
  const fields = [];
  lines.forEach((line, i) => {
    const at = line.indexOf('=');
    if (at < 0) throw new Error(`line ${i + 1} is not NAME=DECIMAL`);
    const name = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    if (!isFieldName(name)) throw new Error(`line ${i + 1}: "${name}" is not a field name (a letter or _, then letters, digits and _)`);
    if (fields.some(([seen]) => seen === name)) throw new Error(`line ${i + 1}: ${name} is given twice`);
    let units;
    try {
      units = parseDecimal(value);
    } catch (e) {
      throw new Error(`line ${i + 1}: ${e.message}`);
    }
    fields.push([name, units]);
  });
  return fields;
}
