// Index over Prisma's DMMF so GraphQL-protocol requests can be typed.
//
// prisma-client-py sends every value as a GraphQL literal (strings for Json,
// DateTime, Bytes, Decimal, BigInt). The JSON protocol that the wasm engine
// speaks needs those values tagged, otherwise e.g. a Json field is stored as a
// JSON *string*. The DMMF tells, for every argument path, which types an input
// position accepts.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const schemaWasm = require('@prisma/prisma-schema-wasm');

export class SchemaIndex {
  constructor(dmmf) {
    this.inputTypes = new Map();
    for (const ns of Object.values(dmmf.schema.inputObjectTypes)) {
      for (const t of ns) {
        this.inputTypes.set(t.name, new Map(t.fields.map((f) => [f.name, f])));
      }
    }
    this.outputTypes = new Map();
    for (const ns of Object.values(dmmf.schema.outputObjectTypes)) {
      for (const t of ns) {
        this.outputTypes.set(t.name, new Map(t.fields.map((f) => [f.name, f])));
      }
    }
    this.enumNames = new Set();
    for (const ns of Object.values(dmmf.schema.enumTypes)) {
      for (const e of ns) this.enumNames.add(e.name);
    }
    // root GraphQL field name -> { modelName, action }
    this.operations = new Map();
    for (const m of dmmf.mappings.modelOperations) {
      for (const [action, fieldName] of Object.entries(m)) {
        if (action === 'model' || typeof fieldName !== 'string') continue;
        this.operations.set(fieldName, { modelName: m.model, action });
      }
    }
    for (const list of Object.values(dmmf.mappings.otherOperations)) {
      for (const fieldName of list) {
        this.operations.set(fieldName, { modelName: undefined, action: fieldName });
      }
    }
    this.rootFields = new Map();
    for (const root of ['Query', 'Mutation']) {
      for (const [name, field] of this.outputTypes.get(root) ?? []) this.rootFields.set(name, field);
    }
  }

  static fromSchemaText(prismaSchema) {
    const dmmf = JSON.parse(schemaWasm.get_dmmf(JSON.stringify({ prismaSchema })));
    return new SchemaIndex(dmmf);
  }

  /** Fields of the output type a field returns, or undefined for scalars. */
  outputFieldsOf(field) {
    if (!field || field.outputType.location !== 'outputObjectTypes') return undefined;
    return this.outputTypes.get(field.outputType.type);
  }
}

export function loadConfig(prismaSchema, datasourceOverrides, env) {
  const raw = schemaWasm.get_config(
    JSON.stringify({ prismaSchema, datasourceOverrides, ignoreEnvVarErrors: true, env }),
  );
  return JSON.parse(raw);
}
