/**
 * What a migration scenario run against a real QEMU leaves behind (harness.ts), and the captured
 * runs kept as test vectors in test/fixtures/qemu/<major.minor>/<scenario>.json. Every QMP line is
 * kept exactly as QEMU sent it. This module reads records; it starts nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isObject, parseJson, type JsonObject } from './json.js';
import type { LogEntry } from './qmp-client.js';

/** The scenarios (harness.ts has what each one does). */
export const SCENARIO_NAMES = ['precopy', 'bandwidth', 'multifd', 'postcopy', 'pause-before-switchover', 'cancel', 'destination-killed'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** How a QEMU process ended before the harness killed it, if it did. */
export interface ExitRecord {
  readonly code: number | null;
  readonly signal: string | null;
}

/** One QEMU's side of a run. */
export interface SideRecord {
  /** The QEMU arguments, with the run's folder as `$DIR` and the guest kernel as `guest.elf`. */
  readonly argv: readonly string[];
  /** The QMP greeting line. */
  readonly greeting: string;
  /** Every command sent on the main monitor with its reply, and every event, in the order received. */
  readonly log: readonly LogEntry[];
  /** The `query-migrate` reply once the migration was over (null when this QEMU was gone). */
  readonly final: string | null;
  /** The reply to `human-monitor-command` `info migrate` at the same point (null when gone). */
  readonly infoMigrate: string | null;
  /** How the process ended by itself before the run's end, or null when it was still running. */
  readonly exitedEarly: ExitRecord | null;
}

/** Something the scenario did while the migration ran, and on which event. */
export interface ActionRecord {
  /** The event it waited for, e.g. `MIGRATION_PASS 2` or `MIGRATION pre-switchover`. */
  readonly on: string;
  readonly side: 'source' | 'destination';
  /** The command line sent, or `SIGKILL` for a killed process. */
  readonly sent: string;
  /** The reply, or null for a kill. */
  readonly reply: string | null;
}

/** A whole run. */
export interface ScenarioRecord {
  readonly scenario: ScenarioName;
  readonly about: string;
  /** e.g. `7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`. */
  readonly qemu: string;
  /** The source's `query-version` reply. */
  readonly queryVersion: string;
  readonly guest: { readonly memory: string; readonly append: string };
  readonly actions: readonly ActionRecord[];
  readonly source: SideRecord;
  readonly destination: SideRecord;
}

/** A QMP event, parsed. */
export interface EventRecord {
  readonly name: string;
  readonly data: JsonObject;
  /** QEMU's timestamp, in microseconds since the epoch. */
  readonly timestampUs: bigint;
  readonly text: string;
}

/**
 * The `query-migrate` replies of one side, in order: every poll, then the final one.
 * @param side - a side of a record
 * @returns the reply texts
 */
export function queryMigrateReplies(side: SideRecord): string[] {
  return side.log.flatMap((entry) => ('command' in entry && entry.command === 'query-migrate' ? [entry.reply] : []));
}

/**
 * The `return` members of a side's `query-migrate` replies, parsed with exact integers.
 * @param side - a side of a record
 * @returns one object per reply
 */
export function queryMigrateReturns(side: SideRecord): JsonObject[] {
  return queryMigrateReplies(side).map((text) => {
    const value = parseJson(text);
    if (!isObject(value) || !isObject(value.return)) throw new Error(`not a query-migrate reply: ${text}`);
    return value.return;
  });
}

/**
 * The events of one side, parsed, in order.
 * @param side - a side of a record
 * @returns the events
 */
export function eventsOf(side: SideRecord): EventRecord[] {
  return side.log.flatMap((entry) => {
    if (!('event' in entry)) return [];
    const value = parseJson(entry.event);
    if (!isObject(value) || typeof value.event !== 'string') throw new Error(`not an event: ${entry.event}`);
    const stamp = isObject(value.timestamp) ? value.timestamp : {};
    const us = (typeof stamp.seconds === 'bigint' ? stamp.seconds : 0n) * 1_000_000n + (typeof stamp.microseconds === 'bigint' ? stamp.microseconds : 0n);
    return [{ name: value.event, data: isObject(value.data) ? value.data : {}, timestampUs: us, text: entry.event }];
  });
}

/**
 * The statuses a side went through, from its `MIGRATION` events.
 * @param side - a side of a record
 * @returns e.g. `['setup', 'active', 'completed']`
 */
export function statusesOf(side: SideRecord): string[] {
  return eventsOf(side).flatMap((event) => (event.name === 'MIGRATION' ? [String(event.data.status)] : []));
}

/** Where captured runs are kept. */
export const FIXTURE_ROOT = fileURLToPath(new URL('../fixtures/qemu/', import.meta.url));

/**
 * The captured runs of every QEMU version kept.
 * @returns the records, by version folder (`7.2`, …)
 */
export function readFixtures(): { version: string; file: string; record: ScenarioRecord }[] {
  const out: { version: string; file: string; record: ScenarioRecord }[] = [];
  for (const version of readdirSync(FIXTURE_ROOT).sort()) {
    for (const file of readdirSync(`${FIXTURE_ROOT}${version}`).sort()) {
      if (!file.endsWith('.json')) continue;
      out.push({ version, file, record: JSON.parse(readFileSync(`${FIXTURE_ROOT}${version}/${file}`, 'utf8')) as ScenarioRecord });
    }
  }
  return out;
}
