/**
 * JSON as QMP sends it, with integers kept exact: a number without a fraction or an exponent
 * becomes a bigint, any other a JS number. (JSON.parse would round integers above 2^53, and Node 20
 * has no access to a number's source text in a reviver.)
 */

/** A parsed QMP value. */
export type Json = bigint | number | string | boolean | null | Json[] | { [key: string]: Json };

/** A parsed JSON object. */
export type JsonObject = { [key: string]: Json };

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Parses one JSON text; integers become bigints.
 * @param text - the JSON text
 * @returns the value
 * @throws SyntaxError naming the offset of the first error
 */
export function parseJson(text: string): Json {
  let at = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`parseJson: ${what} at offset ${at} of ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)}`);
  };
  const space = (): void => {
    while (at < text.length && ' \t\r\n'.includes(text[at]!)) at++;
  };
  const string = (): string => {
    at++; // the opening quote
    let out = '';
    for (;;) {
      const char = text[at++];
      if (char === undefined) return fail('an unterminated string');
      if (char === '"') return out;
      if (char !== '\\') {
        out += char;
        continue;
      }
      const escape = text[at++];
      if (escape === 'u') {
        const hex = text.slice(at, at + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('a bad \\u escape');
        out += String.fromCharCode(parseInt(hex, 16));
        at += 4;
      } else if (escape !== undefined && escape in ESCAPES) out += ESCAPES[escape];
      else fail('a bad escape');
    }
  };
  const value = (): Json => {
    space();
    const char = text[at];
    if (char === '{') {
      at++;
      const object: JsonObject = {};
      space();
      if (text[at] === '}') {
        at++;
        return object;
      }
      for (;;) {
        space();
        if (text[at] !== '"') fail('a member name expected');
        const key = string();
        space();
        if (text[at++] !== ':') fail("':' expected");
        Object.defineProperty(object, key, { value: value(), enumerable: true, writable: true, configurable: true });
        space();
        const next = text[at++];
        if (next === '}') return object;
        if (next !== ',') fail("',' or '}' expected");
      }
    }
    if (char === '[') {
      at++;
      const array: Json[] = [];
      space();
      if (text[at] === ']') {
        at++;
        return array;
      }
      for (;;) {
        array.push(value());
        space();
        const next = text[at++];
        if (next === ']') return array;
        if (next !== ',') fail("',' or ']' expected");
      }
    }
    if (char === '"') return string();
    for (const [word, result] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return result;
      }
    }
    NUMBER.lastIndex = at;
    const number = NUMBER.exec(text);
    if (number === null) return fail('a value expected');
    at += number[0].length;
    return number[1] === undefined && number[2] === undefined ? BigInt(number[0]) : Number(number[0]);
  };
  const result = value();
  space();
  if (at !== text.length) fail('the end expected');
  return result;
}

/** Whether a value is a JSON object (not an array, not null). */
export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
