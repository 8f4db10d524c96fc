/**
 * The isolation layers of DESIGN.md §4 that can be switched off — only by tests, to prove
 * that each layer stops a cross-tenant read on its own. Production code never passes this:
 * buildApp defaults every layer on, and server.ts has no way to change it.
 */
export interface IsolationLayers {
  /** Layer 1: actor kind vs route scope at request time (the boot-time check always runs). */
  routeScope: boolean;
  /** Layer 2: assertClientTenant before a client-scoped handler gets its database client. */
  assertClientTenant: boolean;
  /** Layer 2, strengthened: a client-scoped response without a proven assertion fails closed. */
  authorizationProof: boolean;
  /** Layer 3: the Prisma tenant-scope extension on the client-scoped transaction. */
  tenantScope: boolean;
  /**
   * Layer 4: each unit of work switches to spade_app, so RLS applies. Off only with an
   * owner connection and `unsafeSkipRuntimeRoleCheck` (the connection then bypasses RLS).
   */
  rowLevelSecurity: boolean;
  /** Layer 6: refuse a response that carries another client's id. */
  responseGuard: boolean;
}

export const ALL_LAYERS_ON: Readonly<IsolationLayers> = Object.freeze({
  routeScope: true,
  assertClientTenant: true,
  authorizationProof: true,
  tenantScope: true,
  rowLevelSecurity: true,
  responseGuard: true,
});

/**
 * Every layer off: the baseline of the layer-independence tests and the benchmark. Only
 * usable with an owner connection and `unsafeSkipRuntimeRoleCheck` (buildApp refuses otherwise).
 */
export const ALL_LAYERS_OFF: Readonly<IsolationLayers> = Object.freeze({
  routeScope: false,
  assertClientTenant: false,
  authorizationProof: false,
  tenantScope: false,
  rowLevelSecurity: false,
  responseGuard: false,
});
