import type { Migration } from 'kysely';
import * as initial from './0001_initial.js';
import * as zoomConnections from './0002_zoom_connections.js';
import * as email from './0003_email.js';
import * as rateLimits from './0004_rate_limits.js';
import * as availabilityVersion from './0005_availability_version.js';
import * as rateLimitExpiry from './0006_rate_limit_expiry.js';
import * as linkBoundOauth from './0007_link_bound_oauth.js';
import * as retentionIndexes from './0008_retention_indexes.js';
import * as lastZoomUser from './0009_last_zoom_user.js';
import * as meetingLockToken from './0010_meeting_lock_token.js';
import * as jobs from './0011_jobs.js';
import * as bookingLifecycle from './0012_booking_lifecycle.js';
import * as reminderOffsets from './0013_reminder_offsets.js';
import * as zoomHealth from './0014_zoom_health.js';
import * as heldRequests from './0015_held_requests.js';

/**
 * Every migration, in order. Listed here rather than read from a folder so
 * the same code runs from TypeScript sources and from the built package.
 */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_zoom_connections': zoomConnections,
  '0003_email': email,
  '0004_rate_limits': rateLimits,
  '0005_availability_version': availabilityVersion,
  '0006_rate_limit_expiry': rateLimitExpiry,
  '0007_link_bound_oauth': linkBoundOauth,
  '0008_retention_indexes': retentionIndexes,
  '0009_last_zoom_user': lastZoomUser,
  '0010_meeting_lock_token': meetingLockToken,
  '0011_jobs': jobs,
  '0012_booking_lifecycle': bookingLifecycle,
  '0013_reminder_offsets': reminderOffsets,
  '0014_zoom_health': zoomHealth,
  '0015_held_requests': heldRequests,
};
