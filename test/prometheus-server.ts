/**
 * A real Prometheus for the end-to-end tests: started on loopback with a config of one job scraping
 * `targets` every second and a data folder in `dataDir`, and awaited until it is ready (or until
 * it or the scraped process exits).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, start } from './tools.js';
import { poll } from './wait.js';

/** A started Prometheus: its HTTP API, and why a wait on it should stop (an exit), if one happened. */
export interface PrometheusServer {
  readonly api: string;
  readonly exited: () => string | undefined;
}

/**
 * Starts Prometheus (a scrape slower than its 1 s timeout fails and is made again a second later:
 * the tests wait for the first that works).
 * @param prometheus - the binary
 * @param dataDir - a new temporary folder, removed by the caller
 * @param job - the job's name
 * @param targets - `host:port` of each process to scrape
 * @param scraped - the process the targets are in, named as its exit should say
 * @param started - where the child is added, for the caller to stop
 * @param flags - more command-line flags (`--enable-feature=…`)
 */
export async function startPrometheus(
  { prometheus, dataDir, job, targets, scraped, started, flags = [] }:
  { prometheus: string; dataDir: string; job: string; targets: readonly string[]; scraped: { name: string; child: ChildProcess; output: () => string }; started: ChildProcess[]; flags?: readonly string[] },
): Promise<PrometheusServer> {
  const config = join(dataDir, 'prometheus.yml');
  const list = targets.map((target) => `'${target}'`).join(', ');
  writeFileSync(config, ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', `  - job_name: ${job}`, '    static_configs:', `      - targets: [${list}]`, ''].join('\n'));
  const webPort = await freePort();
  const prom = start(prometheus, [`--config.file=${config}`, `--storage.tsdb.path=${join(dataDir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`, ...flags, '--log.level=warn'], { cwd: dataDir });
  started.push(prom.child);
  const api = `http://127.0.0.1:${webPort}`;
  const exited = () =>
    prom.child.exitCode !== null
      ? `prometheus exited with ${prom.child.exitCode}: ${prom.output()}`
      : scraped.child.exitCode !== null
        ? `${scraped.name} exited with ${scraped.child.exitCode}: ${scraped.output()}`
        : undefined;
  await poll(`Prometheus ready on ${api}`, async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined), { stop: exited });
  return { api, exited };
}
