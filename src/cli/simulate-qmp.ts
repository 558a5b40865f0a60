/**
 * `migration-stats simulate --qmp ADDRESS`: the simulated source served over QMP, as QEMU's
 * `-qmp` serves a monitor (one per address). It boots, prints where it listens, and waits for a
 * client's `migrate`; it shows the migration live and reports it when it ends, and keeps serving
 * until a client's `quit` or a signal, as QEMU keeps running after a migration.
 * @packageDocumentation
 */
import { serveQmp } from '../qemu/qmp-server.js';
import { bootSimulatedVm } from '../simulate/migration.js';
import type { SimulationSettings } from '../simulate/settings.js';
import { SimulatorQmpBackend } from '../simulate/qmp-backend.js';
import { DestinationQmpBackend } from '../simulate/qmp-destination.js';
import type { MigrationResult } from '../simulate/types.js';
import { EXIT, SIGNAL_EXIT, type CommandIo } from './command.js';
import { progressView } from './progress.js';
import { writeReport } from './report.js';
import { formatBytes } from './units.js';

/**
 * Serves the simulated source until `quit` or a signal.
 * @param settings - the guest's settings and the initial migration parameters
 * @param addresses - `qmp`: the source's monitors (`unix:PATH` or `tcp:HOST:PORT`, one each);
 *   `destination`: where the destination listens (`incoming`, else `migrate-incoming` says) and its monitors
 * @param json - print the final `query-migrate` JSON on stdout rather than the report
 * @param io - the streams, and the signal that stops the command
 * @returns 0 when no migration ran or it completed and verified; 1 when it was cancelled or
 *   failed, or the destination differs; 130 or 143 when a signal stopped the command
 */
export async function serveSimulatedSource(
  settings: SimulationSettings,
  addresses: { readonly qmp: readonly string[]; readonly destination: { readonly incoming: string | undefined; readonly qmp: readonly string[] } | undefined },
  json: boolean,
  io: CommandIo,
): Promise<number> {
  const live = json ? io.stderr : io.stdout;
  const view = progressView(live);
  live.write(
    `Simulated QEMU source: a ${formatBytes(settings.ramBytes)} guest (${+(settings.zeroShare * 100).toFixed(2)}% zero pages, ` +
      `dirtying ${formatBytes(settings.dirtyBytesPerSecond)}/s), ${settings.backend} backend; booting\n`,
  );
  const vm = await bootSimulatedVm({ ...settings, onProgress: (p) => view.update(p) });
  const backend = new SimulatorQmpBackend(vm);
  const servers: { address: string; close(): Promise<void> }[] = [];
  let code: number = EXIT.ok;
  try {
    for (const address of addresses.qmp) servers.push(await serveQmp(address, backend));
    for (const server of servers) live.write(`QMP monitor on ${server.address}; waiting for migrate\n`);
    const { destination } = addresses;
    if (destination) {
      const incoming = new DestinationQmpBackend(vm, destination.incoming);
      for (const address of destination.qmp) {
        const server = await serveQmp(address, incoming);
        servers.push(server);
        live.write(`destination's QMP monitor on ${server.address}; incoming ${destination.incoming ?? 'after migrate-incoming'}\n`);
      }
    }
    const stopped = new Promise<string>((resolve) => {
      if (io.signal?.aborted) resolve(String(io.signal.reason));
      io.signal?.addEventListener('abort', () => resolve(String(io.signal!.reason)), { once: true });
    });
    const quit = backend.quit.then(() => 'quit');
    // The migration is reported when it ends; the command goes on until quit or a signal.
    let reported: Promise<void> = Promise.resolve();
    void vm.started.then(() => {
      reported = vm.finished!.then(
        (result) => {
          view.finish();
          code = report(result, json, io);
        },
        (error: unknown) => {
          view.finish();
          io.stderr.write(`migration-stats simulate: ${error instanceof Error ? error.message : String(error)}\n`);
          code = EXIT.failed;
        },
      );
    });
    const why = await Promise.race([stopped, quit]);
    // QEMU's quit ends a migration under way; here it is cancelled first, so that its report says so.
    if (vm.migrating) vm.cancel(why);
    if (vm.finished) await vm.finished.catch(() => undefined);
    await reported;
    if (why !== 'quit') code = SIGNAL_EXIT[why] ?? EXIT.failed;
  } finally {
    await Promise.all(servers.map((server) => server.close()));
    await vm.shutDown();
  }
  return code;
}

/** Prints a migration's report, as the plain `simulate` does, and returns its exit code. */
function report(result: MigrationResult, json: boolean, io: CommandIo): number {
  return writeReport(result, json, io) ? EXIT.ok : EXIT.failed;
}
