/**
 * QMP arguments as QEMU's QAPI input visitor checks them, with its error texts (as QEMU 7.2
 * words them): unexpected and missing members, values of the wrong type, enumerations.
 * @packageDocumentation
 */
import type { QmpValue } from '../qemu/qmp-json.js';
import { QmpError, type QmpObject } from '../qemu/qmp-wire.js';

const U64 = (1n << 64n) - 1n;

/** A `GenericError` with QEMU's text. */
export function generic(desc: string): QmpError {
  return new QmpError('GenericError', desc);
}

/** Refuses members other than `allowed` (QEMU: "Parameter 'x' is unexpected"). */
export function onlyMembers(args: QmpObject, allowed: readonly string[]): void {
  for (const key of Object.keys(args)) {
    if (!allowed.includes(key)) throw generic(`Parameter '${key}' is unexpected`);
  }
}

/** A required member (QEMU: "Parameter 'x' is missing"). */
export function required(args: QmpObject, name: string): QmpValue {
  const value = args[name];
  if (value === undefined) throw generic(`Parameter '${name}' is missing`);
  return value;
}

/** A string member. */
export function str(value: QmpValue, name: string): string {
  if (typeof value !== 'string') throw generic(`Invalid parameter type for '${name}', expected: string`);
  return value;
}

/** A boolean member. */
export function bool(value: QmpValue, name: string): boolean {
  if (typeof value !== 'boolean') throw generic(`Invalid parameter type for '${name}', expected: boolean`);
  return value;
}

/** A member of an enumeration (QEMU: "Parameter 'x' does not accept value 'y'"). */
export function oneOf<T extends string>(value: QmpValue, name: string, values: readonly T[]): T {
  const text = str(value, name);
  if (!(values as readonly string[]).includes(text)) throw generic(`Parameter '${name}' does not accept value '${text}'`);
  return text as T;
}

/**
 * A `uint64` member: QEMU takes any JSON integer, a negative one as its two's complement
 * (`-1` is 2^64 − 1), and refuses anything else ("Parameter 'x' expects uint64").
 */
export function uint64(value: QmpValue, name: string): bigint {
  if (typeof value !== 'bigint' || value > U64 || value < -(1n << 63n)) throw generic(`Parameter '${name}' expects uint64`);
  return BigInt.asUintN(64, value);
}

/** A `uint8`, `uint32`… member: a `uint64` first, then its range ("Parameter 'x' expects uint8_t"). */
export function uintN(value: QmpValue, name: string, bits: 8 | 16 | 32): number {
  const wide = uint64(value, name);
  if (wide >= 1n << BigInt(bits)) throw generic(`Parameter '${name}' expects uint${bits}_t`);
  return Number(wide);
}

/** An array member. */
export function array(value: QmpValue, name: string): readonly QmpValue[] {
  if (!Array.isArray(value)) throw generic(`Invalid parameter type for '${name}', expected: array`);
  return value as readonly QmpValue[];
}

/** An object member. */
export function object(value: QmpValue, name: string): QmpObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw generic(`Invalid parameter type for '${name}', expected: object`);
  return value as QmpObject;
}
