import { MigrationStats, type BackendName, type MetricsRequest } from '../dist/index.js';

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
