import { writeFile } from 'node:fs/promises';
import { dumpOpenApi, renderSchemaTypes, SCHEMA_FILE } from './api-spec.ts';

/** Regenerates src/generated/api-schema.ts from the API's route schemas. */
const types = await renderSchemaTypes(await dumpOpenApi());
await writeFile(SCHEMA_FILE, types);
process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
