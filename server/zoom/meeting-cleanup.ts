import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/schema.js';
import { enqueueJob, type JobHandler } from '../jobs/index.js';
import type { Logger } from '../logger.js';
import type { MeetingCleanupRequest, ZoomMeetings } from './meetings.js';

/** The job that deletes the Zoom meetings of a booking that went another way. */
export const MEETING_CLEANUP_JOB = 'zoom.delete-booking-meetings';

/**
 * Queues the deletion of a booking's leftover meetings, in the caller's
 * transaction: it runs once the change commits, and is retried with backoff
 * for a day (Zoom down, a dead token that the specialist re-authorizes
 * later). `runAfter` leaves Zoom alone for a while when it is struggling.
 */
export async function queueMeetingCleanup(
  executor: Transaction<Database> | Kysely<Database>,
  clock: Clock,
  request: MeetingCleanupRequest,
  runAfter?: Date,
): Promise<void> {
  await enqueueJob(executor, clock, { kind: MEETING_CLEANUP_JOB, payload: request, runAfter });
}

/**
 * Deletes a booking's leftover meetings at once, and when that fails
 * (Zoom down, the connection dead) queues a job that keeps trying, so a
 * meeting made for a booking that does not exist never outlives it for long.
 */
export async function cleanUpBookingMeetings(deps: { db: Kysely<Database>; clock: Clock; logger: Logger; meetings: ZoomMeetings }, request: MeetingCleanupRequest): Promise<void> {
  try {
    await deps.meetings.deleteForBooking(request);
  } catch (error) {
    deps.logger.warn('zoom meetings of a booking left for the cleanup job', { specialistId: request.specialistId, bookingId: request.bookingId, error: (error as Error).message });
    await queueMeetingCleanup(deps.db, deps.clock, request);
  }
}

/** The job worker's handler for `queueMeetingCleanup`'s jobs: a failure is retried with the default backoff for 24 h. */
export function createMeetingCleanupJobHandler(meetings: ZoomMeetings): JobHandler<MeetingCleanupRequest> {
  return {
    kind: MEETING_CLEANUP_JOB,
    async run(request, context) {
      await meetings.deleteForBooking({ ...request, signal: context.signal });
    },
  };
}
