/**
 * Helpers for tests that drive real programs: find a tool on PATH (test/requirements.ts says when
 * tests that need one are skipped), pick a free loopback port, start a program and keep its output,
 * stop child processes that the test started. How to wait for them is in test/wait.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { PARTS, which } from './requirements.js';

export { which };

/** The path of a Prometheus tool, or an error saying how to get it. */
export function requireTool(tool: string): string {
  const path = which(tool);
  if (path !== undefined) return path;
  throw new Error(`${tool} is not installed: ${PARTS.prometheus.enable}`);
}

/** A loopback TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Starts a program and keeps its output for error messages. */
export function start(command: string, args: readonly string[], options: { cwd?: string } = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

/** Stops a child this test started (by its own handle): SIGTERM, then SIGKILL if it lingers. */
export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}
