/**
 * `migration-stats/simulate`: a pre-copy (or postcopy) live migration of a simulated guest's RAM
 * on worker threads (Node `worker_threads` or browser Web Workers), counted in the shared counters.
 * @packageDocumentation
 */
export { bootSimulatedVm, simulateMigration } from './migration.js';
export { SimulatedVm, type RunState } from './vm.js';
export { SIMULATED_QEMU_VERSION, SimulatorQmpBackend } from './qmp-backend.js';
export { DestinationQmpBackend } from './qmp-destination.js';
export type { MigrationCapabilities, MigrationParameters } from './parameters.js';
// Every type of the simulator's options, progress reports and result (DestinationStats, PostcopyResult…).
export type * from './types.js';
export { DEFAULT_SETTINGS, MAX_CHANNELS, MAX_RAM_BYTES, type SimulationSettings } from './settings.js';
export {
  MAIN_STREAM,
  MAX_SEND_BYTES,
  MULTIFD_HANDSHAKE_BYTES,
  MULTIFD_PACKET_HEADER_BYTES,
  multifdPacketBytes,
  PAGE_BYTES,
  PAGES_PER_PACKET,
  POSTCOPY_PAGE_RECORD_BYTES,
  POSTCOPY_ZERO_RECORD_BYTES,
} from './wire.js';
export { compileScan, jsZeroScanner, wasmZeroScanner, zeroScanner, type ZeroScanKind, type ZeroScanner } from './zero-scan.js';
