/**
 * The API package's entry, for what composes it from outside: the web app's test server
 * and OpenAPI script, the bench. The process entry is server.ts (worker.ts for a separate
 * delivery worker); the route rule has its own entry, `@breezycorp/api/route-scope`.
 */
export { type App, type AppDeps, buildApp } from './app.ts';
export { type Config, parseConfig } from './config.ts';
export { decoyIdsIn } from './plugins/decoy-tripwire.ts';
export { BreadthDetector } from './services/breadth-detector.ts';
export { ALL_LAYERS_OFF, ALL_LAYERS_ON, type IsolationLayers } from './tenancy/layers.ts';
