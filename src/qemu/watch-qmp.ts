/**
 * The two settings `watchQemu` reads from QEMU besides `query-migrate`: the `events` capability
 * (turned on when it is off and allowed) and `max-bandwidth` (mirrored as the rate limit).
 * @packageDocumentation
 */
import type { MigrationStats } from '../stats.js';
import type { QmpValue } from './qmp-json.js';
import { QmpError, type QmpObject } from './qmp-wire.js';
import { bigintOf, objectOf } from './watch-mirror.js';
import type { WatchOutcome } from './watch-types.js';

type Exec = (command: string, args?: QmpObject) => Promise<QmpValue>;

/**
 * Turns the `events` capability on when it is off and `enable` is true. QEMU refuses while a
 * migration runs (`GenericError: There's a migration process in progress`): the watch then polls
 * only, and `refused` says why.
 * @throws whatever `exec` throws other than a QmpError
 */
export async function eventsCapability(exec: Exec, enable: boolean): Promise<{ events: WatchOutcome['events']; refused: string | undefined }> {
  let capabilities: QmpValue;
  try {
    capabilities = await exec('query-migrate-capabilities');
  } catch (error) {
    if (!(error instanceof QmpError)) throw error;
    return { events: 'off', refused: error.message };
  }
  const on = Array.isArray(capabilities) && capabilities.some((c) => objectOf(c)?.capability === 'events' && objectOf(c)?.state === true);
  if (on) return { events: 'on', refused: undefined };
  if (!enable) return { events: 'off', refused: undefined };
  try {
    await exec('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    return { events: 'turned-on', refused: undefined };
  } catch (error) {
    if (!(error instanceof QmpError)) throw error;
    return { events: 'off', refused: error.message };
  }
}

/**
 * Mirrors `max-bandwidth` (`query-migrate-parameters`) as the rate limit, as QEMU's
 * `migration_rate_set` does when a migration starts; a refused command changes nothing.
 * @throws whatever `exec` throws other than a QmpError
 */
export async function mirrorRateLimit(exec: Exec, stats: MigrationStats): Promise<void> {
  try {
    const bandwidth = bigintOf(objectOf(await exec('query-migrate-parameters'))?.['max-bandwidth']);
    if (bandwidth !== undefined && bandwidth >= 0n) stats.migrationRateSet(BigInt.asUintN(64, bandwidth));
  } catch (error) {
    if (!(error instanceof QmpError)) throw error;
  }
}
