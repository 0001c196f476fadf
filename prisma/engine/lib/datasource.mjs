// Resolve the PostgreSQL URL the way the native engine does and turn Prisma's
// connection-string parameters into node-postgres pool settings.
import os from 'node:os';
import { loadConfig } from './schema-index.mjs';

// Parameters only Prisma understands; node-postgres must not see them.
const PRISMA_ONLY = [
  'schema', 'connection_limit', 'pool_timeout', 'connect_timeout', 'socket_timeout',
  'pgbouncer', 'statement_cache_size', 'sslaccept', 'sslidentity', 'sslpassword',
];
// `host=/socket/dir` stays: pg-connection-string reads it as the unix socket directory, as Prisma does.

export function resolveUrl(prismaSchema, env) {
  if (env.OVERWRITE_DATASOURCES) {
    try {
      const overrides = JSON.parse(env.OVERWRITE_DATASOURCES);
      const hit = Array.isArray(overrides) ? overrides.find((d) => d && d.url) : undefined;
      if (hit) return hit.url;
    } catch {
      // fall through to the schema's datasource
    }
  }
  const config = loadConfig(prismaSchema, {}, env);
  const ds = config?.config?.datasources?.[0] ?? config?.datasources?.[0];
  if (!ds) throw new Error('No datasource in the Prisma schema');
  const url = ds.url?.value ?? (ds.url?.fromEnvVar ? env[ds.url.fromEnvVar] : undefined);
  if (!url) {
    throw new Error(`Datasource url is not set (env ${ds.url?.fromEnvVar ?? '?'} is empty)`);
  }
  return url;
}

export function poolConfig(url) {
  // Only the query string is read here: the authority may be empty (`postgresql://u@/db?host=/socket`),
  // which WHATWG URL parsing rejects but libpq, Prisma and pg-connection-string accept.
  const q = url.indexOf('?');
  const params = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
  const schema = params.get('schema') ?? undefined;
  const limit = Number(params.get('connection_limit')) || os.cpus().length * 2 + 1;
  const poolTimeout = params.has('pool_timeout') ? Number(params.get('pool_timeout')) : 10;
  const connectTimeout = params.has('connect_timeout') ? Number(params.get('connect_timeout')) : 5;
  for (const p of PRISMA_ONLY) params.delete(p);
  const cleaned = (q >= 0 ? url.slice(0, q) : url) + (params.toString() ? `?${params}` : '');
  const config = {
    connectionString: cleaned,
    max: limit,
    // pool_timeout=0 means wait forever, as in Prisma
    connectionTimeoutMillis: poolTimeout === 0 ? 0 : Math.max(poolTimeout, connectTimeout) * 1000,
    idleTimeoutMillis: 300_000,
  };
  if (schema) config.options = `-c search_path="${schema.replace(/"/g, '')}"`;
  return { config, schema };
}
