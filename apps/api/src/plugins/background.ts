import fp from 'fastify-plugin';

/**
 * Work a route starts after its answer is out, whose outcome the caller must not learn —
 * not even from how long the answer took ("email me a new link"). Failures are logged;
 * closing the app waits for what is still running.
 */
export interface BackgroundWork {
  run(label: string, work: () => Promise<unknown>): void;
  /** Resolves once nothing started so far is still running (tests, shutdown). */
  settled(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    background: BackgroundWork;
  }
}

export default fp(
  async (app) => {
    const running = new Set<Promise<unknown>>();
    const background: BackgroundWork = {
      run(label, work) {
        const task = Promise.resolve()
          .then(work)
          .catch((error: unknown) => app.log.error({ err: error }, `${label} failed`))
          .finally(() => running.delete(task));
        running.add(task);
      },
      async settled() {
        while (running.size > 0) await Promise.allSettled([...running]);
      },
    };
    app.decorate('background', background);
    app.addHook('onClose', async () => background.settled());
  },
  { name: 'background' },
);
