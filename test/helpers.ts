import { expect } from 'vitest';
import { MigrationStats, type BackendName, type MetricsRequest } from '../dist/index.js';
import { readHeader } from '../dist/backend/header.js';
import type { Layout } from '../dist/backend/layout.js';
import { decodeDefinition } from '../dist/definition.js';

/** Both backends run every suite that touches counters. */
export const BACKENDS: BackendName[] = ['wasm', 'js'];

export const U64_MAX = 0xffff_ffff_ffff_ffffn;
export const TWO_63 = 1n << 63n;

/** A fresh set of counters on the given backend. */
export function fresh(backend: BackendName): Promise<MigrationStats> {
  return MigrationStats.create({ backend });
}

/** Every counter's value, for "nothing changed" checks. */
export function values(stats: MigrationStats): bigint[] {
  return stats.counters.map((c) => c.get());
}

/** Where a stats object's cells are: the library's own plan of its memory, from the memory's header. */
export function layoutOf(stats: { handle: { memory: WebAssembly.Memory } }): Layout {
  const buffer = stats.handle.memory.buffer;
  return readHeader(buffer, 'test', decodeDefinition).layout;
}

/** The raw u64 at a byte offset of a stats object's shared memory. */
export function word(stats: { handle: { memory: WebAssembly.Memory } }, byteOffset: number): bigint {
  return Atomics.load(new BigUint64Array(stats.handle.memory.buffer, byteOffset, 1), 0);
}

/** The raw u32 at a byte offset of a stats object's shared memory. */
export function word32(stats: { handle: { memory: WebAssembly.Memory } }, byteOffset: number): number {
  return Atomics.load(new Uint32Array(stats.handle.memory.buffer, byteOffset, 1), 0);
}

/** Byte offset of a scalar metric's base cell, and of its cell in lane `lane` (−1 for a gauge). */
export function cellOf(stats: { handle: { memory: WebAssembly.Memory } }, name: string, lane = 0): { base: number; lane: number } {
  const layout = layoutOf(stats);
  const entry = layout.metrics.find((m) => m.spec.name === name);
  if (!entry) throw new Error(`no metric ${name}`);
  return { base: entry.base, lane: entry.lane < 0 ? -1 : layout.lanesOffset + layout.laneStride * lane + entry.lane };
}

/** What a metrics handler answered. */
export interface Answer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string | undefined;
}

/** Calls a `createMetricsHandler` handler as node:http would, recording the answer. */
export function callHandler(handler: (request: MetricsRequest, response: never) => void, request: MetricsRequest): Answer {
  const answer: Answer = { status: 0, headers: {}, body: undefined };
  const response = {
    set statusCode(code: number) {
      answer.status = code;
    },
    get statusCode() {
      return answer.status;
    },
    setHeader(name: string, value: string | number) {
      answer.headers[name.toLowerCase()] = String(value);
    },
    end(body?: string) {
      answer.body = body;
    },
  };
  handler(request, response as never);
  return answer;
}

/**
 * Posts `stats.handle` on a MessageChannel and expects the post to throw `refusal` before anything
 * is sent: a message posted after it is the only one that arrives (messages arrive in order).
 */
export async function expectHandlePostRefused(stats: MigrationStats, refusal: string | RegExp): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  const received: unknown[] = [];
  const lastArrived = new Promise<void>((resolve) => {
    port2.onmessage = ({ data }) => {
      received.push(data);
      if (data === 'last') resolve();
    };
  });
  try {
    expect(() => port1.postMessage({ handle: stats.handle })).toThrow(refusal);
    port1.postMessage('last');
    await lastArrived;
  } finally {
    port1.close();
    port2.close();
  }
  expect(received).toEqual(['last']);
}
