#!/usr/bin/env node
// A static file server for the page: serves this package's directory
// (`page/`, `src/`, `dist/`, and the preview2-shim from `node_modules/`)
// on the loopback interface. No server logic: everything the page does
// happens in the browser.
//
//   node serve.mjs [port]      # then open http://127.0.0.1:<port>/page/

import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = dirname(fileURLToPath(import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ts': 'text/plain; charset=utf-8',
};

/** The file under `root` a URL path names, or `undefined` outside it. */
function resolve(root, urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return undefined;
  }
  if (path.endsWith('/')) path += 'index.html';
  const file = normalize(join(root, path));
  return file === root || file.startsWith(root + sep) ? file : undefined;
}

/**
 * Starts serving `root` (default: this package) on 127.0.0.1:`port` (0: any
 * free port); resolves to `{ server, url }` once listening.
 */
export function serve({ root = ROOT, port = 0 } = {}) {
  const server = createServer((req, res) => {
    const file = resolve(root, req.url ?? '/');
    let stat;
    try {
      stat = file && statSync(file);
    } catch {
      stat = undefined;
    }
    if (stat?.isDirectory()) {
      res.writeHead(302, { location: `${req.url.split('?')[0]}/` }).end();
      return;
    }
    if (!stat?.isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(stat ? 405 : 404, { 'content-type': 'text/plain' }).end(stat ? 'method not allowed' : 'not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      done({ server, url: `http://127.0.0.1:${server.address().port}/` });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? 8080);
  const { url } = await serve({ port });
  console.log(`serving ${ROOT} at ${url} — open ${url}page/ (Ctrl-C stops)`);
}
