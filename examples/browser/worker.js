// One Web Worker of the counters view: attaches to the page's counters and sends multifd packets.
// Workers do not see the page's import map, so the library is imported by its URL.
import { MigrationStats } from './lib/migration-stats.js';

onmessage = async ({ data: { handle, backend, packets, packet } }) => {
  try {
    const stats = await MigrationStats.attach(handle, { backend });
    postMessage({ type: 'started', lane: stats.lane });
    const { normalPages, zeroPages, bytes } = packet;
    for (let i = 0; i < packets; i++) stats.addMultifdPacket(normalPages, zeroPages, bytes);
    stats.close();
    postMessage({ type: 'done' });
  } catch (error) {
    postMessage({ type: 'error', message: String(error?.message ?? error) });
  }
};
