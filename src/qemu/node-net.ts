/**
 * The parts of Node's `node:net` and `node:fs/promises` the QMP server and client use, imported
 * by a computed name when first needed: the library compiles without Node's types, and a
 * browser bundle that reaches these modules never pulls Node's in (see worker-port.ts).
 * @packageDocumentation
 */

/** A `net.Socket`, as much of it as QMP uses. */
export interface NodeSocket {
  on(event: 'data', listener: (bytes: Uint8Array) => void): this;
  on(event: 'error', listener: (error: Error & { code?: string }) => void): this;
  on(event: 'close' | 'connect' | 'end', listener: () => void): this;
  once(event: 'error', listener: (error: Error & { code?: string }) => void): this;
  once(event: 'close' | 'connect', listener: () => void): this;
  off(event: string, listener: (...args: never[]) => void): this;
  write(text: string): boolean;
  end(): this;
  destroy(): this;
  pause(): this;
  resume(): this;
  readonly destroyed: boolean;
  readonly writable: boolean;
}

/** A `net.Server`, as much of it as QMP uses. */
export interface NodeServer {
  listen(path: string, callback: () => void): this;
  listen(port: number, host: string, callback: () => void): this;
  close(callback: () => void): this;
  address(): { readonly address: string; readonly family: string; readonly port: number } | string | null;
  on(event: 'error', listener: (error: Error & { code?: string }) => void): this;
  once(event: 'error', listener: (error: Error & { code?: string }) => void): this;
}

/** `node:net`, as much of it as QMP uses. */
export interface NodeNet {
  createServer(listener: (socket: NodeSocket) => void): NodeServer;
  connect(options: { readonly path: string } | { readonly host: string; readonly port: number }): NodeSocket;
}

/** `node:fs/promises`, as much of it as QMP uses. */
export interface NodeFs {
  lstat(path: string): Promise<{ isSocket(): boolean; isFile(): boolean; isDirectory(): boolean }>;
  rm(path: string, options: { readonly force: boolean }): Promise<void>;
}

const load = <T>(parts: readonly string[]): Promise<T> => import(/* @vite-ignore */ parts.join(':')) as Promise<T>;

/** Imports `node:net` (Node, Deno and Bun provide it). */
export const nodeNet = (): Promise<NodeNet> => load(['node', 'net']);

/** Imports `node:fs/promises`. */
export const nodeFs = (): Promise<NodeFs> => load(['node', 'fs/promises']);
