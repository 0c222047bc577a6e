/** Lone surrogates made U+FFFD: String.prototype.toWellFormed (Node 20; not in the ES2022 lib's types). */
const wellFormed = (v: string): string => (v as string & { toWellFormed(): string }).toWellFormed();

/**
 * A script's list of strings (and counts) as one JSON argument, read in the script with Redis's
 * built-in cjson: ioredis frames every argument of a command on its own (a string and its byte
 * length each, and in buffer mode a copy), so a batch's hundreds of members cost more as
 * arguments than as one string. JSON.stringify writes a lone surrogate as `\udxxx`, which cjson
 * refuses; ioredis sends one as U+FFFD (UTF-8), so it is made U+FFFD here too, and the script
 * writes the same member an argument would have.
 */
export function scriptJson(value: readonly (string | number)[]): string {
  const json = JSON.stringify(value);
  return json.includes('\\ud') ? JSON.stringify(value.map((v) => (typeof v === 'string' ? wellFormed(v) : v))) : json;
}
