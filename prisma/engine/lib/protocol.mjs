// Translation between prisma-client-py's GraphQL protocol and the JSON
// protocol of the wasm query engine.
//
// Request: `query { result: findUniqueUser(where: {...}) { id name } }`
//   -> { modelName, action, query: { arguments, selection } }
// Response: { data: { findUniqueUser: <tagged values> } }
//   -> { data: { result: <plain values> } }
import { parse, Kind } from 'graphql';

const TAGGED_SCALARS = ['Json', 'DateTime', 'Bytes', 'Decimal', 'BigInt'];

export class ProtocolError extends Error {}

export function graphqlToJson(index, queryText) {
  let doc;
  try {
    doc = parse(queryText, { noLocation: true });
  } catch (err) {
    throw new ProtocolError(`Could not parse GraphQL query: ${err.message}`);
  }
  const op = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  const root = op?.selectionSet.selections[0];
  if (!root || root.kind !== Kind.FIELD) throw new ProtocolError('Expected one root field');
  const fieldName = root.name.value;
  const operation = index.operations.get(fieldName);
  const rootField = index.rootFields.get(fieldName);
  if (!operation || !rootField) throw new ProtocolError(`Unknown operation ${fieldName}`);
  const query = {
    arguments: convertArguments(index, root.arguments, rootField.args, operation.action),
    selection: convertSelection(index, root.selectionSet, index.outputFieldsOf(rootField)),
  };
  const json = { action: operation.action, query };
  if (operation.modelName) json.modelName = operation.modelName;
  return { json, fieldName };
}

function convertArguments(index, argNodes, argDefs, action) {
  const out = {};
  const defs = new Map((argDefs ?? []).map((a) => [a.name, a]));
  for (const arg of argNodes ?? []) {
    const name = arg.name.value;
    // Raw query parameters stay a JSON string, exactly as in the GraphQL protocol.
    if ((action === 'queryRaw' || action === 'executeRaw') && arg.value.kind === Kind.STRING) {
      out[name] = arg.value.value;
      continue;
    }
    out[name] = convertValue(index, arg.value, defs.get(name)?.inputTypes ?? []);
  }
  return out;
}

function convertSelection(index, selectionSet, outputFields) {
  const selection = {};
  if (!selectionSet) return selection;
  for (const node of selectionSet.selections) {
    if (node.kind !== Kind.FIELD) continue;
    const name = node.name.value;
    if (!node.selectionSet && !(node.arguments && node.arguments.length)) {
      selection[name] = true;
      continue;
    }
    const field = outputFields?.get(name);
    selection[name] = {
      arguments: convertArguments(index, node.arguments, field?.args, undefined),
      selection: node.selectionSet
        ? convertSelection(index, node.selectionSet, index.outputFieldsOf(field))
        : { $scalars: true },
    };
  }
  return selection;
}

function scalarNames(candidates) {
  const names = new Set();
  for (const c of candidates) if (c.location === 'scalar') names.add(c.type);
  return names;
}

function convertValue(index, node, candidates) {
  switch (node.kind) {
    case Kind.NULL:
      return null;
    case Kind.BOOLEAN:
      return node.value;
    case Kind.ENUM:
      return node.value;
    case Kind.STRING:
      return tagString(node.value, scalarNames(candidates));
    case Kind.INT:
    case Kind.FLOAT:
      return tagNumber(node.value, node.kind === Kind.INT, scalarNames(candidates));
    case Kind.LIST: {
      const listTypes = candidates.filter((c) => c.isList).map((c) => ({ ...c, isList: false }));
      const elementTypes = listTypes.length ? listTypes : candidates;
      return node.values.map((v) => convertValue(index, v, elementTypes));
    }
    case Kind.OBJECT:
      return convertObject(index, node, candidates);
    default:
      throw new ProtocolError(`Unsupported GraphQL value kind ${node.kind}`);
  }
}

function convertObject(index, node, candidates) {
  const keys = node.fields.map((f) => f.name.value);
  const objectTypes = candidates
    .filter((c) => c.location === 'inputObjectTypes')
    .map((c) => index.inputTypes.get(c.type))
    .filter(Boolean);
  // Unions such as UserCreateInput | UserUncheckedCreateInput: prefer the
  // types that accept every key given; the engine validates the final choice.
  let matching = objectTypes.filter((t) => keys.every((k) => t.has(k)));
  if (!matching.length) matching = objectTypes;
  const out = {};
  for (const f of node.fields) {
    const name = f.name.value;
    const fieldTypes = [];
    for (const t of matching) {
      const def = t.get(name);
      if (def) fieldTypes.push(...def.inputTypes);
    }
    out[name] = convertValue(index, f.value, fieldTypes);
  }
  return out;
}

function tagString(value, scalars) {
  if (scalars.has('String') || scalars.size === 0) return value;
  for (const t of TAGGED_SCALARS) {
    if (scalars.has(t)) return { $type: t, value };
  }
  return value;
}

function tagNumber(raw, isInt, scalars) {
  if (scalars.has('BigInt') && !scalars.has('Int')) {
    return { $type: 'BigInt', value: isInt ? raw : String(Math.trunc(Number(raw))) };
  }
  if (scalars.has('Decimal') && !scalars.has('Float') && !scalars.has('Int')) {
    return { $type: 'Decimal', value: raw };
  }
  // Json positions fed a bare number: keep it a JSON value, not a string.
  if (scalars.has('Json') && !scalars.has('Int') && !scalars.has('Float')) {
    return { $type: 'Json', value: raw };
  }
  return Number(raw);
}

// ---------------------------------------------------------------- responses

/** JSON-protocol output values -> what the GraphQL protocol returned. */
export function untag(value) {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(untag);
  if (typeof value.$type === 'string' && 'value' in value) {
    switch (value.$type) {
      case 'BigInt':
        return bigIntOut(value.value);
      case 'Raw':
        return value.value;
      default:
        // Json stays JSON text, which is what prisma-client-py's models expect;
        // DateTime, Decimal and Bytes stay strings.
        return value.value;
    }
  }
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = untag(v);
  return out;
}

function bigIntOut(text) {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/** Single JSON-protocol response -> GraphQL-protocol response keyed `result`. */
export function singleResponse(parsed) {
  if (parsed.errors) return { errors: parsed.errors };
  const data = parsed.data ?? {};
  const keys = Object.keys(data);
  return { data: { result: untag(keys.length ? data[keys[0]] : null) } };
}

/** Batch response; errors inside items are lifted so the client raises them. */
export function batchResponse(parsed) {
  if (parsed.errors) return { errors: parsed.errors };
  const batchResult = [];
  const errors = [];
  for (const item of parsed.batchResult ?? []) {
    if (item.errors) {
      errors.push(...item.errors);
      batchResult.push({ errors: item.errors });
    } else {
      batchResult.push(singleResponse(item));
    }
  }
  return errors.length ? { batchResult, errors } : { batchResult };
}
