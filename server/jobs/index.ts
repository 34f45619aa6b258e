/**
 * Background work (issue #15): one `jobs` table and one worker a process.
 * A feature adds a kind — a `JobHandler` passed to `createJobWorker` — and
 * queues its jobs with `enqueueJob` in the transaction that calls for them.
 */
export { enqueueJob, listFailedJobs, type FailedJob, type NewJob } from './queue.js';
export { createJobClaimer, type ClaimedJob, type JobClaimer } from './claim.js';
export { DEFAULT_RETRY_POLICY, PermanentJobError, RetryJobAt, type JobContext, type JobFailure, type JobHandler, type RetryPolicy } from './handler.js';
export { createJobWorker, type JobWorker, type JobWorkerOptions } from './worker.js';
