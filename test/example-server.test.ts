// The browser example's static server (examples/browser/server.mjs), without a browser.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { serve } from '../examples/browser/server.mjs';

const EXAMPLE = fileURLToPath(new URL('../examples/browser/', import.meta.url));

type Server = { url: string; close(): Promise<void> };

describe('the example server', () => {
  it('gives a URL that works when it listens on an IPv6 address', async () => {
    const server: Server = await serve({ mounts: { '/': EXAMPLE }, host: '::1' });
    try {
      expect(server.url).toMatch(/^http:\/\/\[::1\]:\d+\/$/);
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    } finally {
      await server.close();
    }
  });
});
