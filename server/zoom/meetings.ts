import type { Logger } from '../logger.js';
import type { ZoomClient, ZoomMeeting } from './client.js';
import type { ReauthReason, ZoomConnectionStore } from './connections.js';
import { ZoomApiError, ZoomMalformedAnswerError, ZoomNetworkError } from './errors.js';

export interface MeetingRequest {
  specialistId: string;
  bookingId: string;
  topic: string;
  start: Date;
  durationMinutes: number;
  timeZone: string;
  customerName: string;
  /** True when an earlier attempt may already have created the meeting at Zoom. */
  mayAlreadyExist: boolean;
  /**
   * Aborts the whole creation (Zoom's retries, the network retries, a wait
   * for another request's token refresh) at the caller's deadline, or when
   * it lost the booking's lease: the answer is then `unavailable`.
   */
  signal?: AbortSignal | undefined;
}

export type MeetingResult =
  | { kind: 'created'; meeting: ZoomMeeting }
  | { kind: 'reauth'; reason: ReauthReason }
  /** `retryAfterSeconds`: Zoom's own Retry-After, when its last answer had one. */
  | { kind: 'unavailable'; message: string; retryAfterSeconds?: number };

/** Which booking's meetings to delete, and the one to keep (the meeting it was confirmed with, if any). */
export interface MeetingCleanupRequest {
  specialistId: string;
  bookingId: string;
  keepMeetingId?: string | null | undefined;
}

/** The Zoom connection could not be used to delete a booking's meetings. */
export class MeetingCleanupError extends Error {
  override name = 'MeetingCleanupError';
}

export interface ZoomMeetings {
  /** Creates the booking's meeting, or finds the one an earlier attempt created. */
  createForBooking(request: MeetingRequest): Promise<MeetingResult>;
  /**
   * Deletes the meetings made for a booking that went another way (found
   * by its agenda marker), except `keepMeetingId`: the meeting the booking
   * was confirmed with. Returns how many were deleted.
   * @throws MeetingCleanupError when the connection cannot be used, and
   *   Zoom's errors when Zoom fails: see `cleanUpBookingMeetings`, which
   *   retries later.
   */
  deleteForBooking(request: MeetingCleanupRequest & { signal?: AbortSignal }): Promise<number>;
}

/** The text that ties a Zoom meeting to its booking, so a retry can find it instead of creating another. */
export function bookingMarker(bookingId: string): string {
  return `Booking reference: ${bookingId}`;
}

const NETWORK_ATTEMPTS = 3;

/**
 * Meeting creation for bookings, with the token rules of issue #3:
 * a 401 code 124 refreshes once and retries once; 429 and 5xx were already
 * retried with backoff by the client and end as `unavailable` (the token is
 * fine), as does a 2xx that breaks Zoom's contract (issue #15); a lost
 * answer is retried after looking for the meeting it may have created, so a
 * booking never gets two meetings.
 */
export function createZoomMeetings(deps: { zoom: ZoomClient; connections: ZoomConnectionStore; logger: Logger }): ZoomMeetings {
  const { zoom, connections, logger } = deps;

  async function createOrFind(accessToken: string, request: MeetingRequest, mayAlreadyExist: boolean): Promise<ZoomMeeting> {
    const marker = bookingMarker(request.bookingId);
    const options = { signal: request.signal };
    if (mayAlreadyExist) {
      const [existing] = await zoom.findMeetingsByAgendaMarker(accessToken, marker, options);
      if (existing) return existing;
    }
    return zoom.createMeeting(
      accessToken,
      {
        topic: request.topic,
        startTime: request.start,
        durationMinutes: request.durationMinutes,
        timeZone: request.timeZone,
        agenda: `Session with ${request.customerName}.\n\n${marker}`,
      },
      options,
    );
  }

  const tooLate = (request: MeetingRequest): MeetingResult => {
    logger.warn('zoom meeting creation stopped', { specialistId: request.specialistId, bookingId: request.bookingId, reason: String(request.signal?.reason) });
    return { kind: 'unavailable', message: 'Zoom did not create the meeting in time.' };
  };

  return {
    async createForBooking(request) {
      let token = await connections.getAccessToken(request.specialistId, { signal: request.signal });
      if (token.kind !== 'token') return token;
      let hasRetriedToken = false;
      let mayAlreadyExist = request.mayAlreadyExist;
      for (let networkAttempt = 1; ; ) {
        try {
          return { kind: 'created', meeting: await createOrFind(token.accessToken, request, mayAlreadyExist) };
        } catch (error) {
          // Checked first: an aborted call is neither Zoom's answer nor a network failure worth retrying.
          if (request.signal?.aborted) return tooLate(request);
          if (error instanceof ZoomApiError && error.isInvalidToken && !hasRetriedToken) {
            hasRetriedToken = true;
            token = await connections.getAccessToken(request.specialistId, { rejectedToken: token.accessToken, signal: request.signal });
            if (token.kind !== 'token') return token;
            continue;
          }
          if (error instanceof ZoomApiError && (error.isInvalidToken || error.code === 4711)) {
            // A freshly refreshed token refused too, or missing scopes: only a new authorization helps.
            await connections.markInvalid(request.specialistId, 'access_token_rejected');
            return { kind: 'reauth', reason: 'access_token_rejected' };
          }
          if (error instanceof ZoomApiError && error.isTransient) {
            logger.warn('zoom meeting creation unavailable', { specialistId: request.specialistId, status: error.status, code: error.code });
            return { kind: 'unavailable', message: 'Zoom is not accepting new meetings right now.', retryAfterSeconds: error.retryAfterSeconds };
          }
          if (error instanceof ZoomMalformedAnswerError) {
            logger.warn('zoom answer unusable', { specialistId: request.specialistId, error: error.message });
            return { kind: 'unavailable', message: 'Zoom sent an answer that could not be used.' };
          }
          if (error instanceof ZoomNetworkError && networkAttempt < NETWORK_ATTEMPTS) {
            networkAttempt++;
            mayAlreadyExist = true;
            continue;
          }
          if (error instanceof ZoomNetworkError) return { kind: 'unavailable', message: 'Zoom could not be reached.' };
          throw error;
        }
      }
    },

    async deleteForBooking({ specialistId, bookingId, keepMeetingId, signal }) {
      const token = await connections.getAccessToken(specialistId);
      if (token.kind !== 'token') throw new MeetingCleanupError(token.kind === 'reauth' ? `the Zoom connection needs re-authorizing (${token.reason})` : token.message);
      const made = await zoom.findMeetingsByAgendaMarker(token.accessToken, bookingMarker(bookingId), { signal });
      const extra = made.filter((meeting) => meeting.id !== keepMeetingId);
      for (const meeting of extra) await zoom.deleteMeeting(token.accessToken, meeting.id, { signal });
      if (extra.length > 0) logger.info('zoom meetings of a booking that went another way deleted', { specialistId, bookingId, count: extra.length });
      return extra.length;
    },
  };
}
