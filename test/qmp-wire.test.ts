import { describe, expect, it } from 'vitest';
import { parseQmp, parseQmpAddress, QmpError, QmpReader, QmpSyntaxError, qmpTimestamp } from '../dist/qemu/qmp-wire.js';

describe('parseQmp', () => {
  it('keeps every integer exact as a bigint and reads fractions and exponents as doubles', () => {
    const value = parseQmp('{"return": {"ram": {"transferred": 18446744073709551615, "x": -1, "mbps": 58.152999999999999, "e": 1e3}}}');
    expect(value).toEqual({ return: { ram: { transferred: 18446744073709551615n, x: -1n, mbps: 58.153, e: 1000 } } });
  });

  it('reads strings with escapes and a __proto__ member as an own member', () => {
    const value = parseQmp('{"s": "a\\"b\\u0000\\r\\n", "__proto__": [true, false, null]}') as Record<string, unknown>;
    expect(value.s).toBe('a"b\u0000\r\n');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual([true, false, null]);
  });

  it.each(['{"a": }', '[1,]', '{} x', '"\\x"', '01', '', '{"a" 1}', '[1 2]', 'nul'])('refuses %j with a QmpSyntaxError', (text) => {
    expect(() => parseQmp(text)).toThrow(QmpSyntaxError);
  });

  it('refuses nesting deeper than 1024, as QEMU does', () => {
    expect(() => parseQmp('['.repeat(1024) + ']'.repeat(1024))).not.toThrow();
    expect(() => parseQmp('['.repeat(1025) + ']'.repeat(1025))).toThrow(/nesting deeper than 1024/);
  });
});

describe('QmpReader', () => {
  it('hands out each top-level value once it completes, whatever the chunks', () => {
    const reader = new QmpReader();
    expect(reader.push('{"a": "}"')).toEqual([]);
    expect(reader.push(', "b": [1,{}]}\r\n{"c"')).toEqual(['{"a": "}", "b": [1,{}]}']);
    expect(reader.push(': "\\"}"}\r\n{}[]')).toEqual(['{"c": "\\"}"}', '{}', '[]']);
  });

  it('refuses a top-level token that is not an object or array, and a value past its limit', () => {
    expect(() => new QmpReader().push('x')).toThrow(QmpSyntaxError);
    expect(() => new QmpReader(8).push('{"a": "0123456789"')).toThrow(/longer than 8/);
  });
});

describe('parseQmpAddress', () => {
  it('reads unix:PATH and tcp:HOST:PORT', () => {
    expect(parseQmpAddress('unix:/run/vm1.qmp')).toEqual({ path: '/run/vm1.qmp' });
    expect(parseQmpAddress('tcp:localhost:4444')).toEqual({ host: 'localhost', port: 4444 });
    expect(parseQmpAddress('tcp:[::1]:4444')).toEqual({ host: '::1', port: 4444 });
    expect(parseQmpAddress('tcp::4444')).toEqual({ host: '127.0.0.1', port: 4444 });
  });

  it.each(['unix:', 'tcp:host', 'tcp:host:65536', 'udp:x:1', '/run/vm1.qmp'])('refuses %j naming the flag and the forms', (text) => {
    expect(() => parseQmpAddress(text, '--qmp')).toThrow(new TypeError(`--qmp must be unix:PATH or tcp:HOST:PORT (port 0 to 65535); received ${JSON.stringify(text)}`));
  });
});

describe('QmpError and qmpTimestamp', () => {
  it('carries QEMU class and description', () => {
    const error = new QmpError('CommandNotFound', "The command foo has not been found");
    expect([error.errorClass, error.desc, error.message]).toEqual(['CommandNotFound', 'The command foo has not been found', 'CommandNotFound: The command foo has not been found']);
  });

  it('splits epoch milliseconds into whole seconds and microseconds', () => {
    expect(qmpTimestamp(1_700_000_000_123.456)).toEqual({ seconds: 1_700_000_000n, microseconds: 123_456n });
  });
});
