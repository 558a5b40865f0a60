// A tiny static file server for the browser example (and the browser tests), with no dependencies.
//
// It sends the two headers that make a page cross-origin isolated, which browsers require before
// they let a page share memory with its workers:
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp
// `--no-isolation` serves the same files without them, to see what a page gets then.
//
//   node examples/browser/server.mjs [--port 8080] [--host 127.0.0.1] [--no-isolation]
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The headers that make a page cross-origin isolated (`self.crossOriginIsolated === true`). */
export const ISOLATION_HEADERS = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
});

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** The path a URL path names: the longest mount prefix wins; nothing outside a mount's folder. */
function lookup(mounts, pathname) {
  for (const [prefix, dir] of mounts) {
    if (!pathname.startsWith(prefix)) continue;
    const path = resolve(dir, '.' + sep + normalize(decodeURIComponent(pathname.slice(prefix.length))));
    return path === dir || path.startsWith(dir + sep) ? path : undefined;
  }
  return undefined;
}

/**
 * Starts serving files.
 * @param {object} options
 * @param {Record<string, string>} options.mounts - URL prefix (ending in `/`) → folder
 * @param {boolean} [options.isolated=true] - send the two cross-origin isolation headers
 * @param {Record<string, string>} [options.headers] - more headers for every response (e.g. a CSP)
 * @param {number} [options.port=0] - 0 picks a free port
 * @param {string} [options.host='127.0.0.1']
 * @returns {Promise<{ url: string, close: () => Promise<void> }>} `url` ends in `/`
 */
export async function serve({ mounts, isolated = true, headers = {}, port = 0, host = '127.0.0.1' }) {
  const table = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix, resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);
  const common = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...(isolated ? ISOLATION_HEADERS : {}), ...headers };

  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    let path;
    try {
      path = lookup(table, pathname);
    } catch {
      path = undefined; // a malformed %-escape
    }
    if (path !== undefined && existsSync(path) && statSync(path).isDirectory()) {
      if (!pathname.endsWith('/')) {
        // A folder without its slash: redirect, so that the page's relative URLs resolve inside it.
        res.writeHead(301, { ...common, Location: pathname + '/' }).end();
        return;
      }
      path = join(path, 'index.html');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...common, Allow: 'GET, HEAD' }).end();
    } else if (path === undefined || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404, { ...common, 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found: ${pathname}\n`);
    } else {
      const type = CONTENT_TYPES[extname(path)] ?? 'application/octet-stream';
      res.writeHead(200, { ...common, 'Content-Type': type, 'Content-Length': statSync(path).size });
      if (req.method === 'HEAD') res.end();
      else createReadStream(path).pipe(res);
    }
  });

  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const address = server.address();
  // An IPv6 address goes in brackets in a URL (http://[::1]:8080/).
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostInUrl}:${address.port}/`,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections(); // a browser keeps connections open
      }),
  };
}

async function main(argv) {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const library = fileURLToPath(new URL('../../dist/browser/', import.meta.url));
  const option = (name, fallback) => {
    const at = argv.indexOf(name);
    return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1] : fallback;
  };
  const port = Number(option('--port', process.env.PORT ?? '8080'));
  const host = option('--host', '127.0.0.1');
  const isolated = !argv.includes('--no-isolation');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer from 0 to 65535; received ${option('--port', process.env.PORT)}`);
    process.exit(2);
  }
  if (!existsSync(join(library, 'migration-stats.js'))) {
    console.error('dist/browser/migration-stats.js is missing: run `npm run build` first.');
    process.exit(1);
  }
  try {
    // The page imports the library from /lib/migration-stats.js (see its import map).
    const { url } = await serve({ mounts: { '/': here, '/lib/': library }, isolated, port, host });
    console.log(`Serving examples/browser/ at ${url}`);
    console.log(
      isolated
        ? 'Cross-origin isolated (COOP: same-origin, COEP: require-corp): workers share the counters.'
        : 'Without the isolation headers (--no-isolation): the page counts on its own thread only.',
    );
    console.log('Ctrl+C stops.');
  } catch (error) {
    console.error(error.code === 'EADDRINUSE' ? `Port ${port} is in use: pass --port N (0 picks a free one).` : error.message);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main(process.argv.slice(2));
}
