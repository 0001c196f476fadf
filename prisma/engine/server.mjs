// Prisma 5.17 query engine (wasm, PostgreSQL via @prisma/adapter-pg) behind
// the HTTP interface of the native `query-engine` binary, as prisma-client-py
// 0.15 drives it: `query-engine -p <port> --enable-metrics --enable-raw-queries`
// with PRISMA_DML_PATH, OVERWRITE_DATASOURCES and DATABASE_URL in the env.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ENGINE_COMMIT = '393aa359c9ad4a4bb28630fb5613f9c281cde053';

function parseArgs(argv) {
  const opts = { port: 4466, host: '127.0.0.1', rawQueries: false, metrics: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-p' || a === '--port') opts.port = Number(argv[++i]);
    else if (a === '-H' || a === '--host') opts.host = argv[++i];
    else if (a === '-r' || a === '--enable-raw-queries') opts.rawQueries = true;
    else if (a === '-m' || a === '--enable-metrics') opts.metrics = true;
    else if (a === '--datamodel-path') opts.dmlPath = argv[++i];
    // other native flags (--enable-playground, --log-queries, ...) are accepted and ignored
  }
  return opts;
}

function refuse(res, err) {
  res.writeHead(500, { 'content-type': 'application/json' });
  const message = String(err?.stack ?? err);
  res.end(JSON.stringify({ errors: [{ error: message, user_facing_error: { is_panic: false, message, error_code: 'P2000' } }] }));
}

export async function startServer(opts, env = process.env) {
  // Listen first, with Node's built-ins only, then load the engine: prisma-client-py gives a
  // spawned engine about ten seconds of refused connections before it gives up, and loading
  // the engine's modules and the wasm on a busy host (several workers starting at once) took
  // longer. Until the engine is ready, every request (the client's /status poll included)
  // waits for it instead of being refused.
  const ready = import('./lib/engine.mjs').then((mod) => mod.createEngine(opts, env));
  const server = http.createServer((req, res) =>
    ready.then((engine) => engine.handle(req, res)).catch((err) => refuse(res, err)),
  );
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve) => server.listen(opts.port, opts.host, resolve));
  const engine = await ready;

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    // Never let a stuck disconnect keep the process (and its connections) alive.
    setTimeout(() => process.exit(0), 2000).unref();
    server.close();
    server.closeAllConnections?.();
    try {
      await engine.close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // The client normally stops us with SIGINT; if it dies without doing so we
  // are re-parented and must not linger holding database connections.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown();
  }, 1000).unref();
  return { server, engine: engine.engine, pool: engine.pool };
}

const invokedDirectly = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  startServer(parseArgs(process.argv.slice(2))).catch((err) => {
    process.stderr.write(`query-engine (wasm): ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
