/**
 * V8 flags of a worker process: a larger young generation, because a delivery's allocations die within the job
 * (README.md, "Node flag"). package.json's `start` passes them; so do the tests' and benchmarks' worker processes
 * (test/support/worker-process.ts), and test/deploy checks that the two agree.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
