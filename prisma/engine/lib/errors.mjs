// Turn the wasm engine's "Error in external connector (id N)" (P2036) into what
// the native engine reports for the same failure.
//
// A JavaScript error thrown inside the driver adapter (node-postgres could not
// connect, the pool timed out, ...) reaches the engine only as an id in the
// adapter's error registry. The native engine reports such failures as P1001
// (database unreachable) or P2024 (pool timeout); LiteLLM recognises outages by
// exactly those messages ("can't reach database server", "timed out"), so they
// must read the same.
import { parse as parseConnectionString } from 'pg-connection-string';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH',
  'ENETUNREACH', 'EPIPE', 'ENOENT',
]);

function target(pool) {
  const opts = pool.options ?? {};
  const parsed = opts.connectionString ? parseConnectionString(opts.connectionString) : {};
  return { host: parsed.host || opts.host || 'localhost', port: String(parsed.port || opts.port || 5432) };
}

function userFacing(code, message, meta) {
  return { error: message, user_facing_error: { is_panic: false, message, meta, error_code: code } };
}

export function nativeEquivalent(jsError, pool) {
  const message = String(jsError?.message ?? jsError);
  const { host, port } = target(pool);
  if (/timeout exceeded when trying to connect/i.test(message)) {
    if (pool.totalCount >= (pool.options?.max ?? Infinity)) {
      const timeout = (pool.options?.connectionTimeoutMillis ?? 0) / 1000;
      return userFacing(
        'P2024',
        `Timed out fetching a new connection from the connection pool. More info: http://pris.ly/d/connection-pool (Current connection pool timeout: ${timeout}, connection limit: ${pool.options?.max})`,
        { connection_limit: pool.options?.max, timeout },
      );
    }
  }
  const connectionFailure =
    CONNECTION_CODES.has(jsError?.code) ||
    /timeout exceeded when trying to connect|Connection terminated|connect ETIMEDOUT|server closed the connection/i.test(message);
  if (connectionFailure) {
    return userFacing(
      'P1001',
      `Can't reach database server at \`${host}\`:\`${port}\`\n\nPlease make sure your database server is running at \`${host}\`:\`${port}\`.`,
      { database_host: host, database_port: port },
    );
  }
  return userFacing('P2036', `Error in external connector: ${message}`, { message });
}

/** Rewrite P2036 entries of an engine error list in place; returns the list. */
export function explainErrors(errors, adapter, pool) {
  if (!Array.isArray(errors)) return errors;
  for (let i = 0; i < errors.length; i++) {
    const facing = errors[i]?.user_facing_error ?? errors[i];
    const id = facing?.meta?.id;
    if (facing?.error_code !== 'P2036' || typeof id !== 'number') continue;
    const registry = adapter.errorRegistry;
    const entry = registry?.consumeError(id);
    // The 5.17 registry never frees slots; free it so ids are reused.
    if (registry?.registeredErrors) registry.registeredErrors[id] = undefined;
    if (!entry) continue;
    const replacement = nativeEquivalent(entry.error, pool);
    errors[i] = errors[i]?.user_facing_error ? replacement : replacement.user_facing_error;
  }
  return errors;
}
