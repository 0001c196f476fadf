// The wasm query engine and the request handling of the native engine's HTTP interface.
// Loaded by server.mjs only once it is listening (see there): importing these modules and
// instantiating the engine is most of the start-up time.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindAdapter } from '@prisma/driver-adapter-utils';
import { SchemaIndex } from './schema-index.mjs';
import { graphqlToJson, singleResponse, batchResponse, ProtocolError } from './protocol.mjs';
import { AtriumPool } from './pg-pool.mjs';
import { resolveUrl, poolConfig } from './datasource.mjs';
import { Metrics } from './metrics.mjs';
import { explainErrors } from './errors.mjs';

const here = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

async function loadQueryEngineModule() {
  // Instantiate the postgresql build ourselves: Node cannot import .wasm as ESM.
  const dir = path.join(here, 'node_modules/@prisma/query-engine-wasm/postgresql');
  const bg = await import(path.join(dir, 'query_engine_bg.js'));
  const bytes = fs.readFileSync(path.join(dir, 'query_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './query_engine_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  return bg;
}

export function engineError(message, code = 'P1001') {
  return {
    error: message,
    user_facing_error: { is_panic: false, message, error_code: code },
  };
}

function logCallback(level) {
  const wanted = level === 'error' ? new Set(['error']) : new Set(['error', 'warn', 'info', 'query']);
  return (json) => {
    try {
      const event = JSON.parse(json);
      if (wanted.has(String(event.level).toLowerCase())) process.stderr.write(`${json}\n`);
    } catch {
      process.stderr.write(`${json}\n`);
    }
  };
}

export async function createEngine(opts, env = process.env) {
  const dmlPath = opts.dmlPath ?? env.PRISMA_DML_PATH;
  if (!dmlPath) throw new Error('PRISMA_DML_PATH is not set');
  const datamodel = fs.readFileSync(dmlPath, 'utf8');
  const index = SchemaIndex.fromSchemaText(datamodel);
  const url = resolveUrl(datamodel, env);
  const { config, schema } = poolConfig(url);
  const pool = new AtriumPool(config);
  // A dropped idle connection must not crash the engine.
  pool.on('error', (err) => process.stderr.write(`pg pool error: ${err.message}\n`));
  // Like the native engine, start even when the database is not reachable yet:
  // queries then fail with P1001, which LiteLLM treats as an outage.
  await pool.query('SELECT 1').catch((err) => {
    process.stderr.write(`query-engine (wasm): database not reachable at start-up: ${err.message}\n`);
  });
  const qe = await loadQueryEngineModule();
  const adapter = bindAdapter(new PrismaPg(pool, schema ? { schema } : undefined));
  const logLevel = (env.RUST_LOG ?? 'error').toLowerCase().includes('info') ? 'info' : 'error';
  const engine = new qe.QueryEngine(
    { datamodel, logLevel, logQueries: Boolean(env.LOG_QUERIES) },
    logCallback(logLevel),
    adapter,
  );
  await engine.connect('{}');
  const metrics = new Metrics();
  return {
    engine,
    pool,
    handle: (req, res) => handle({ req, res, engine, index, opts, metrics, adapter, pool }),
    close: async () => {
      await engine.disconnect('{}');
      await pool.end();
    },
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function send(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

// Status codes the native engine's err_to_http_resp uses for interactive
// transactions; the body is the bare user-facing error, as there.
function txStatus(error) {
  const msg = String(error?.message ?? '');
  if (/Transaction not found/i.test(msg)) return 404;
  if (/Transaction already closed/i.test(msg)) return 422;
  if (/Unable to start a transaction in the given time/i.test(msg)) return 504;
  return 500;
}

async function txCall(ctx, res, fn) {
  const parsed = JSON.parse(await fn());
  if (parsed && typeof parsed.error_code === 'string') {
    const [error] = explainErrors([parsed], ctx.adapter, ctx.pool);
    return send(res, txStatus(error), error);
  }
  if (parsed && parsed.errors) return send(res, 500, parsed.errors[0]?.user_facing_error ?? parsed);
  return send(res, 200, parsed ?? {});
}

async function handle(ctx) {
  const { req, res, engine, opts, metrics } = ctx;
  const url = new URL(req.url, 'http://localhost');
  const p = url.pathname;
  if (req.method === 'GET' && p === '/status') return send(res, 200, { status: 'ok' });
  if (req.method === 'GET' && p === '/metrics') {
    if (!opts.metrics) return send(res, 404, { errors: [engineError('Metrics are not enabled')] });
    const body = await readBody(req);
    const labels = body ? JSON.parse(body) : {};
    if (url.searchParams.get('format') === 'prometheus') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(metrics.prometheus(labels));
    }
    return send(res, 200, metrics.json(labels));
  }
  const tx = /^\/transaction\/([^/]+)\/(commit|rollback)$/.exec(p);
  if (req.method === 'POST' && tx) {
    const [, id, what] = tx;
    metrics.count(`transaction_${what}`);
    return txCall(ctx, res, () =>
      what === 'commit' ? engine.commitTransaction(id, '{}') : engine.rollbackTransaction(id, '{}'),
    );
  }
  if (req.method === 'POST' && p === '/transaction/start') {
    const body = await readBody(req);
    metrics.count('transaction_start');
    return txCall(ctx, res, () => engine.startTransaction(body || '{}', '{}'));
  }
  if (req.method === 'POST' && (p === '/' || p === '')) {
    const body = JSON.parse(await readBody(req));
    const txId = req.headers['x-transaction-id'] || undefined;
    const started = process.hrtime.bigint();
    try {
      return send(res, 200, await runRequest(ctx, body, txId));
    } catch (err) {
      if (err instanceof ProtocolError) {
        return send(res, 200, { errors: [engineError(err.message, 'P2009')] });
      }
      throw err;
    } finally {
      metrics.observe(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return send(res, 404, { errors: [engineError(`No route ${req.method} ${p}`)] });
}

function checkRaw(fieldName, opts) {
  if (!opts.rawQueries && (fieldName === 'queryRaw' || fieldName === 'executeRaw')) {
    throw new ProtocolError('Raw queries are disabled; start the engine with --enable-raw-queries');
  }
}

async function runRequest(ctx, body, txId) {
  const { engine, index, opts } = ctx;
  const parseOut = (out) => {
    const parsed = JSON.parse(out);
    explainErrors(parsed.errors, ctx.adapter, ctx.pool);
    for (const item of parsed.batchResult ?? []) explainErrors(item.errors, ctx.adapter, ctx.pool);
    return parsed;
  };
  if (Array.isArray(body.batch)) {
    const batch = body.batch.map((item) => {
      const { json, fieldName } = graphqlToJson(index, item.query);
      checkRaw(fieldName, opts);
      return json;
    });
    const request = { batch };
    if (body.transaction) {
      request.transaction = typeof body.transaction === 'object' ? body.transaction : {};
    }
    const out = await engine.query(JSON.stringify(request), '{}', txId);
    return batchResponse(parseOut(out));
  }
  const { json, fieldName } = graphqlToJson(index, body.query);
  checkRaw(fieldName, opts);
  const out = await engine.query(JSON.stringify(json), '{}', txId);
  return singleResponse(parseOut(out));
}

