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
 *  - a route file importing the unit-of-work or database openers from @breezycorp/db;
 *  - a client-scoped handler using the firm-wide transaction (`firmDb`) — it would skip
 *    require-client-scope's tenant client — or any other route using `tenantDb`.
 * The allowed exceptions are this explicit list; `--list` prints it.
 */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = Object.freeze({
  rawSql: ['services/token-lookups.ts', 'services/delivery/unsafe-claims.ts', 'services/detection-store.ts'],
  basePrisma: [
    'plugins/unit-of-work.ts',
    'plugins/audit.ts',
    'plugins/auth.ts',
    'plugins/kill-switch.ts',
    'services/first-admin.ts',
    'services/delivery/reminder-scheduler.ts',
    'services/delivery/unsafe-claims.ts',
    'services/delivery/worker.ts',
    'services/detection-store.ts',
    'services/magic-links.ts',
    'services/runtime-role.ts',
    'services/token-lookups.ts',
    'server.ts',
  ],
  rawConnection: ['routes/health.ts', 'services/detection-store.ts', 'services/runtime-role.ts', 'server.ts'],
});

const RAW_METHODS = new Set(['$queryRaw', '$executeRaw', '$queryRawUnsafe', '$executeRawUnsafe', '$queryRawTyped']);
const UNSCOPED_OPENERS = new Set([
  'openDatabase',
  'scopedPrisma',
  'beginUnitOfWork',
  'beginClientUnitOfWork',
  'inUnitOfWork',
  'inClientUnitOfWork',
  'applyTenantContext',
  'ADMIN_CONTEXT',
  'PrismaClient',
]);
const ROUTE_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'route', 'all']);

export interface Finding {
  file: string;
  line: number;
  rule:
    | 'raw-sql'
    | 'base-prisma'
    | 'raw-connection'
    | 'route-imports-opener'
    | 'client-scoped-uses-firm-db'
    | 'non-client-route-uses-tenant-db';
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
        if (scope !== 'client-scoped' && callsNamed(handler, 'tenantDb')) {
          findings.push({ file, line: at(node), rule: 'non-client-route-uses-tenant-db', message: `${url}: tenantDb on a ${scope} route` });
        }
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

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--list')) {
    for (const [rule, files] of Object.entries(ALLOWED)) process.stdout.write(`${rule}: ${files.join(', ')}\n`);
  } else {
    const { files, findings } = await scanTree(SRC);
    for (const f of findings) process.stdout.write(`apps/api/src/${f.file}:${f.line}  ${f.rule}  ${f.message}\n`);
    process.stdout.write(`tenant-bypass scan: ${files} files, ${findings.length} finding(s)\n`);
    process.exitCode = findings.length > 0 ? 1 : 0;
  }
}
