import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The runbook's step 4 grep, made exact: an AST scan of apps/api/src (tests excluded) that
 * fails on any way a handler could reach tenant data around the scoped client.
 *  - raw SQL ($queryRaw, $executeRaw and their Unsafe forms) outside the one module allowed;
 *  - the unscoped/base Prisma client (`<db>.prisma`) or a raw connection (`withSql`)
 *    outside the plugins and services that own them;
 *  - a route file importing an all-rows or client-naming context from @breezycorp/db;
 *  - any file importing `@breezycorp/db/unsafe` (the unscoped client, owner-level helpers)
 *    outside its listed importers; outside the API (CLI, bench) every importer is printed;
 *  - a client-scoped handler using the firm-wide transaction (`firmDb`) — it would skip
 *    require-client-scope's tenant client — or any other route using the tenant client
 *    (`tenantDb`, or `clientScope` from routes/client-route.ts, which hands it over);
 *  - a route registered in a route file (`app.<method>('<url>', options, handler)`) whose
 *    options do not declare `config: { routeScope: '…' }` as literals: the rules above read
 *    that literal, so a scope kept in a constant or spread in would hide its handler.
 * The allowed exceptions are this explicit list; `--list` prints it.
 */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = Object.freeze({
  rawSql: ['services/token-lookups.ts', 'services/delivery/unsafe-claims.ts', 'services/detection-store.ts'],
  basePrisma: ['services/token-lookups.ts', 'services/delivery/unsafe-claims.ts', 'services/detection-store.ts', 'server.ts'],
  rawConnection: ['services/token-lookups.ts', 'services/detection-store.ts', 'services/runtime-role.ts', 'server.ts'],
  /** Importers of `@breezycorp/db/unsafe` (the unscoped client, owner-level helpers). */
  unsafeEntry: [
    'server.ts',
    'worker.ts',
    'services/delivery/unsafe-claims.ts',
    'services/detection-store.ts',
    'services/first-admin.ts',
    'services/runtime-role.ts',
    'services/token-lookups.ts',
  ],
});

/** The unsafe entry's module name; importing it is a deliberate, listed act. */
export const UNSAFE_ENTRY = '@breezycorp/db/unsafe';

const RAW_METHODS = new Set(['$queryRaw', '$executeRaw', '$queryRawUnsafe', '$executeRawUnsafe', '$queryRawTyped']);
/** What a route must not import from the safe entry: the all-rows admin context and the contexts that name clients. */
const UNSCOPED_OPENERS = new Set(['ADMIN_CONTEXT', 'clientsContext', 'clientContext']);
const ROUTE_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'route', 'all']);
/** The calls that hand a handler its client's scoped transaction. */
const TENANT_ACCESSORS = ['tenantDb', 'clientScope'] as const;

export interface Finding {
  file: string;
  line: number;
  rule:
    | 'raw-sql'
    | 'base-prisma'
    | 'raw-connection'
    | 'route-imports-opener'
    | 'unsafe-entry'
    | 'client-scoped-uses-firm-db'
    | 'non-client-route-uses-tenant-db'
    | 'route-scope-not-literal';
  message: string;
}

function routeScopeOf(options: ts.Expression | undefined): string | null {
  if (!options || !ts.isObjectLiteralExpression(options)) return null;
  for (const property of options.properties) {
    if (!ts.isPropertyAssignment(property) || property.name.getText() !== 'config') continue;
    if (!ts.isObjectLiteralExpression(property.initializer)) return null;
    for (const inner of property.initializer.properties) {
      if (ts.isPropertyAssignment(inner) && inner.name.getText() === 'routeScope' && ts.isStringLiteral(inner.initializer)) {
        return inner.initializer.text;
      }
    }
  }
  return null;
}

function callsNamed(node: ts.Node, name: string): boolean {
  let found = false;
  const visit = (child: ts.Node) => {
    if (found) return;
    if (ts.isCallExpression(child) && ts.isIdentifier(child.expression) && child.expression.text === name) found = true;
    else ts.forEachChild(child, visit);
  };
  visit(node);
  return found;
}

/** Scans one file's source; `file` is relative to apps/api/src, with forward slashes. */
export function scanSource(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const at = (node: ts.Node) => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const isRouteFile = file.startsWith('routes/');

  const visit = (node: ts.Node) => {
    if (ts.isPropertyAccessExpression(node)) {
      const name = node.name.text;
      if (RAW_METHODS.has(name) && !ALLOWED.rawSql?.includes(file)) {
        findings.push({ file, line: at(node), rule: 'raw-sql', message: `${name} outside ${ALLOWED.rawSql?.join(', ')}` });
      }
      if (name === 'prisma' && !ALLOWED.basePrisma?.includes(file)) {
        findings.push({ file, line: at(node), rule: 'base-prisma', message: `the unscoped base client (${node.getText(sf)})` });
      }
      if (name === 'withSql' && !ALLOWED.rawConnection?.includes(file)) {
        findings.push({ file, line: at(node), rule: 'raw-connection', message: 'a raw database connection (withSql)' });
      }
    }
    if (
      ts.isImportDeclaration(node) &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      node.moduleSpecifier.text === UNSAFE_ENTRY &&
      !ALLOWED.unsafeEntry?.includes(file)
    ) {
      findings.push({ file, line: at(node), rule: 'unsafe-entry', message: `imports ${UNSAFE_ENTRY} (the unscoped client)` });
    }
    if (
      isRouteFile &&
      ts.isImportDeclaration(node) &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      node.moduleSpecifier.text === '@breezycorp/db'
    ) {
      const bindings = node.importClause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) {
          const imported = (element.propertyName ?? element.name).text;
          if (UNSCOPED_OPENERS.has(imported)) {
            findings.push({
              file,
              line: at(element),
              rule: 'route-imports-opener',
              message: `route imports ${imported} from @breezycorp/db`,
            });
          }
        }
      }
    }
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ROUTE_METHODS.has(node.expression.name.text) &&
      ts.isStringLiteral(node.arguments[0] ?? ts.factory.createIdentifier('x'))
    ) {
      const scope = routeScopeOf(node.arguments[1]);
      const handler = node.arguments[node.arguments.length - 1];
      const url = (node.arguments[0] as ts.StringLiteral).text;
      if (scope && handler) {
        if (scope === 'client-scoped' && callsNamed(handler, 'firmDb')) {
          findings.push({
            file,
            line: at(node),
            rule: 'client-scoped-uses-firm-db',
            message: `${url}: a client-scoped handler must use tenantDb`,
          });
        }
        const accessor = TENANT_ACCESSORS.find((name) => callsNamed(handler, name));
        if (scope !== 'client-scoped' && accessor) {
          findings.push({
            file,
            line: at(node),
            rule: 'non-client-route-uses-tenant-db',
            message: `${url}: ${accessor} on a ${scope} route`,
          });
        }
      }
      const receiver = (node.expression as ts.PropertyAccessExpression).expression;
      if (isRouteFile && !scope && ts.isIdentifier(receiver) && receiver.text === 'app') {
        findings.push({
          file,
          line: at(node),
          rule: 'route-scope-not-literal',
          message: `${url}: declare config: { routeScope: '…' } literally in the route's options`,
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}

export async function scanTree(srcDir: string): Promise<{ files: number; findings: Finding[] }> {
  const entries = (await readdir(srcDir, { recursive: true })).filter(
    (f) => f.endsWith('.ts') && !f.split(path.sep).includes('__tests__') && !f.split(path.sep).includes('generated'),
  );
  const findings: Finding[] = [];
  for (const entry of entries.sort()) {
    const file = entry.split(path.sep).join('/');
    findings.push(...scanSource(file, await readFile(path.join(srcDir, entry), 'utf8')));
  }
  return { files: entries.length, findings };
}

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Outside the API, the operator's tools hold the owner's login by design: the CLI, the
 * bench, the web app's build scripts. They are not scanned for bypasses (the unscoped client is their job),
 * but every one of their files that imports the unsafe entry is listed, so a new importer
 * shows in `pnpm lint`'s output and in review.
 */
export const OPERATOR_TREES = ['packages/cli/src', 'bench', 'apps/web/scripts', 'apps/web/src'] as const;

export async function unsafeImporters(repo = REPO): Promise<string[]> {
  const found: string[] = [];
  for (const tree of [...OPERATOR_TREES, 'apps/api/src']) {
    const entries = await readdir(path.join(repo, tree), { recursive: true }).catch(() => [] as string[]);
    for (const entry of entries.sort()) {
      if (!/\.tsx?$/.test(entry) || entry.split(path.sep).some((part) => part === 'node_modules' || part === '__tests__')) continue;
      const text = await readFile(path.join(repo, tree, entry), 'utf8');
      if (text.includes(`'${UNSAFE_ENTRY}'`)) found.push(`${tree}/${entry.split(path.sep).join('/')}`);
    }
  }
  return found;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--list')) {
    for (const [rule, files] of Object.entries(ALLOWED)) process.stdout.write(`${rule}: ${files.join(', ')}\n`);
  } else {
    const { files, findings } = await scanTree(SRC);
    for (const f of findings) process.stdout.write(`apps/api/src/${f.file}:${f.line}  ${f.rule}  ${f.message}\n`);
    const importers = await unsafeImporters();
    process.stdout.write(`importers of ${UNSAFE_ENTRY} (tests aside): ${importers.length}\n${importers.map((f) => `  ${f}\n`).join('')}`);
    process.stdout.write(`tenant-bypass scan: ${files} files, ${findings.length} finding(s)\n`);
    process.exitCode = findings.length > 0 ? 1 : 0;
  }
}
