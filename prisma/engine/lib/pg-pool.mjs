// pg.Pool that makes every result set acceptable to @prisma/adapter-pg 5.17.
//
// The adapter throws "Failed to deserialize column of type 'Unknown'" for
// column types it has no mapping for (name, name[], "char", interval,
// timestamptz[], regclass, ...), which LiteLLM's raw queries return (e.g.
// ARRAY_AGG(viewname) in its view check). The native engine reports such
// columns as text / text[]; we do the same by rewriting the column's type id
// and keeping the value as the server's text form.
//
// The adapter also parses timestamptz by cutting the string at '+', which
// keeps local wall-clock time and breaks for negative offsets; we normalise
// to UTC so results do not depend on the session's TimeZone.
import pg from 'pg';
import { parse as parseArray } from 'postgres-array';

const TEXT = 25;
const TEXT_ARRAY = 1009;
const TIMESTAMP = 1114;
const TIMESTAMP_ARRAY = 1115;
const TIMESTAMPTZ = 1184;
const TIMESTAMPTZ_ARRAY = 1185;

// Type ids @prisma/adapter-pg 5.17 maps itself (src/conversion.ts).
const ADAPTER_OIDS = new Set([
  16, 17, 20, 21, 23, 25, 26, 114, 142, 650, 700, 701, 790, 869, 1042, 1043, 1082, 1083, 1114,
  1184, 1266, 1560, 1562, 1700, 2950, 3802,
  // arrays
  143, 199, 651, 791, 1000, 1001, 1002, 1005, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1028,
  1041, 1115, 1182, 1183, 1231, 1561, 1563, 2951, 3807,
]);

const identity = (v) => v;

export function timestamptzToUtc(text) {
  // e.g. "2024-05-01 10:00:00.123456+05:30", "2024-05-01 10:00:00-07", "infinity"
  const m = /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?([+-]\d{2})(?::?(\d{2}))?(?::?(\d{2}))?( BC)?$/.exec(text);
  if (!m || m[9]) return text;
  const [, date, hh, mm, ss, frac = '', oh, om = '00', os = '00'] = m;
  const sign = oh.startsWith('-') ? -1 : 1;
  const offsetSec = sign * (Math.abs(Number(oh)) * 3600 + Number(om) * 60 + Number(os));
  const ms = Date.parse(`${date}T${hh}:${mm}:${ss}Z`) - offsetSec * 1000;
  if (Number.isNaN(ms)) return text;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac}`;
}

const PARSER_OVERRIDES = {
  [TIMESTAMPTZ]: timestamptzToUtc,
  [TIMESTAMPTZ_ARRAY]: (v) => parseArray(v, timestamptzToUtc),
};

const OID_REMAP = { [TIMESTAMPTZ_ARRAY]: TIMESTAMP_ARRAY };

export class AtriumPool extends pg.Pool {
  constructor(config) {
    super(config);
    // oid -> true when the type is an array (pg_type.typcategory = 'A')
    this.arrayOids = new Map([
      [1003, true], [1187, true], [1034, true], [1263, true], [2211, true], [1040, true], [1270, true],
    ]);
  }

  async query(...args) {
    const [config, values] = args;
    const callback = args.some((a) => typeof a === 'function');
    if (callback || typeof config !== 'object' || config === null || !config.types) {
      return super.query(...args);
    }
    return fixResult(this, await super.query(wrapTypes(config), values), (q, v) => super.query(q, v));
  }

  async connect(...args) {
    if (args.length) return super.connect(...args);
    const client = await super.connect();
    if (!client.__atriumWrapped) {
      const original = client.query.bind(client);
      const pool = this;
      // Pool.query() reuses released clients with the callback form; only the
      // adapter's promise-form calls (which carry `types`) are rewritten.
      client.query = (...args) => {
        const [config, values] = args;
        const callback = args.some((a) => typeof a === 'function');
        if (callback || typeof config !== 'object' || config === null || !config.types) {
          return original(...args);
        }
        return original(wrapTypes(config), values).then((res) => fixResult(pool, res, original));
      };
      client.__atriumWrapped = true;
    }
    return client;
  }
}

function wrapTypes(config) {
  const adapterParser = config.types.getTypeParser;
  return {
    ...config,
    types: {
      getTypeParser(oid, format) {
        if (PARSER_OVERRIDES[oid]) return PARSER_OVERRIDES[oid];
        // Unknown to the adapter: keep the server's text so it can be reported as text.
        if (!ADAPTER_OIDS.has(oid)) return identity;
        return adapterParser(oid, format);
      },
    },
  };
}

async function fixResult(pool, result, runQuery) {
  const fields = result?.fields;
  if (!fields) return result;
  const unknown = [];
  for (const f of fields) {
    if (OID_REMAP[f.dataTypeID]) f.dataTypeID = OID_REMAP[f.dataTypeID];
    else if (!ADAPTER_OIDS.has(f.dataTypeID)) unknown.push(f);
  }
  if (!unknown.length) return result;
  const missing = unknown.map((f) => f.dataTypeID).filter((oid) => !pool.arrayOids.has(oid));
  if (missing.length) {
    const res = await runQuery({
      text: 'SELECT oid::int8::text AS oid, typcategory = \'A\' AS is_array FROM pg_type WHERE oid = ANY($1::oid[])',
      values: [missing],
    });
    for (const row of res.rows) pool.arrayOids.set(Number(row.oid), row.is_array);
    for (const oid of missing) if (!pool.arrayOids.has(oid)) pool.arrayOids.set(oid, false);
  }
  const indexes = fields.map((f, i) => (unknown.includes(f) ? i : -1)).filter((i) => i >= 0);
  for (const i of indexes) {
    const isArray = pool.arrayOids.get(fields[i].dataTypeID);
    fields[i].dataTypeID = isArray ? TEXT_ARRAY : TEXT;
    for (const row of result.rows) {
      const v = row[i];
      if (v === null || v === undefined) continue;
      row[i] = isArray ? parseArray(String(v)) : String(v);
    }
  }
  return result;
}
