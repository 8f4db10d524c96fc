/**
 * The load generator of tenant-read.bench.ts, in a worker thread of its own so that
 * autocannon's work does not run on the event loop of the servers it measures. Plain
 * JavaScript: a worker thread does not inherit tsx's loader.
 * workerData: LoadJob (see tenant-read.bench.ts); posts back one LoadSummary.
 */
import { parentPort, workerData } from 'node:worker_threads';
import autocannon from 'autocannon';

/**
 * @param {{ url: string, token: string, paths: string[], connections: number }} job
 * @param {number} seconds
 * @returns {Promise<import('autocannon').Result>}
 */
async function run(job, seconds) {
  let next = 0;
  /** @type {import('autocannon').Options} */
  const options = {
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    headers: { authorization: `Bearer ${job.token}` },
    requests: [
      {
        method: 'GET',
        // Rotates the paths in order across all connections: each request reads another client's cycle.
        setupRequest: (request) => {
          request.path = job.paths[next++ % job.paths.length];
          return request;
        },
      },
    ],
  };
  const result = await autocannon(options);
  // Off the main thread autocannon returns its raw per-worker result (encoded histograms);
  // aggregateResult is its public way to turn that into the usual result.
  // (@types/autocannon does not declare it.)
  const { aggregateResult } = /** @type {{ aggregateResult(results: unknown[], options: object): import('autocannon').Result }} */ (
    /** @type {unknown} */ (autocannon)
  );
  return result.latency ? result : aggregateResult([result], options);
}

/** @param {'warmup' | 'measured'} phase @param {import('autocannon').Result} result */
function summarise(phase, result) {
  /** @type {Record<string, number>} */
  const statusCodes = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0;
  return {
    phase,
    seconds: (result.finish.getTime() - result.start.getTime()) / 1000,
    requests: result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'],
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.mean,
  };
}

const job = workerData;
parentPort?.postMessage(summarise(job.phase, await run(job, job.seconds)));
