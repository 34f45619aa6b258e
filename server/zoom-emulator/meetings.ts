import { randomBytes } from 'node:crypto';
import { TZDate } from '@date-fns/tz';
import { zoomTime } from './faults.js';
import type { EmulatorMeeting, EmulatorUser } from './state.js';

export interface FieldError {
  field: string;
  message: string;
}

/** A validated `POST /users/me/meetings` body. */
export interface MeetingRequest {
  topic: string;
  startMs: number;
  duration: number;
  timezone: string;
  agenda: string;
  settings: Record<string, unknown>;
}

// Zoom's meeting types are 1 (instant), 2 (scheduled), 3 and 8 (recurring), 4 (PMI), up to 8; only 2 is emulated.
const KNOWN_MEETING_TYPES = new Set([1, 2, 3, 4, 5, 6, 7, 8]);
const START_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

// Asking Intl is the one complete check, and it is slow: remember the answers (zones are a small, fixed set).
const knownTimeZones = new Set<string>();
function isTimeZone(name: string): boolean {
  if (knownTimeZones.has(name)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    knownTimeZones.add(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Zoom reads `start_time` as UTC when it ends in `Z` (or carries an offset),
 * and as local time in `timezone` otherwise. NaN when it is not a date-time.
 */
function parseStartTime(value: string, timeZone: string): number {
  const match = START_TIME.exec(value);
  if (!match) return NaN;
  if (match[7]) return Date.parse(value);
  const [y, mo, d, h, mi, s] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  return new TZDate(y, mo - 1, d, h, mi, s, timeZone).getTime();
}

/** The fields of a create or update body that Zoom validated, in Zoom's units. */
type MeetingFields = Partial<MeetingRequest>;

/**
 * Checks the fields a body carries as Zoom does (code 300 field errors, in
 * field order). `required` fields are errors when absent; other absent fields
 * are left out of the result. A `start_time` without an offset is local time
 * in the body's `timezone`, or `zoneForLocalTimes` when the body has none.
 */
function validateMeetingFields(
  body: Record<string, unknown>,
  options: { required: readonly ('start_time' | 'duration')[]; zoneForLocalTimes: string },
): { fields: MeetingFields } | { errors: FieldError[] } {
  const errors: FieldError[] = [];
  const fields: MeetingFields = {};
  const has = (field: string) => field in body || (options.required as readonly string[]).includes(field);
  const { topic, type, start_time, duration, timezone, agenda, settings } = body;
  if (has('topic')) {
    if (typeof topic !== 'string' || topic.length > 200) errors.push({ field: 'topic', message: 'Topic must be a string of at most 200 characters.' });
    else fields.topic = topic;
  }
  if (has('type') && type !== 2) {
    const isKnown = typeof type === 'number' && KNOWN_MEETING_TYPES.has(type);
    errors.push({ field: 'type', message: isKnown ? 'The emulator only schedules meetings of type 2.' : 'Invalid field.' });
  }
  const zone = has('timezone') ? (typeof timezone === 'string' && isTimeZone(timezone) ? timezone : undefined) : options.zoneForLocalTimes;
  if (has('start_time')) {
    const startMs = typeof start_time === 'string' ? parseStartTime(start_time, zone ?? 'UTC') : NaN;
    if (Number.isNaN(startMs)) errors.push({ field: 'start_time', message: 'Invalid start_time: use yyyy-MM-ddTHH:mm:ssZ.' });
    else fields.startMs = startMs;
  }
  if (has('duration')) {
    if (typeof duration !== 'number' || !Number.isInteger(duration) || duration <= 0) errors.push({ field: 'duration', message: 'Duration must be a positive integer (minutes).' });
    else fields.duration = duration;
  }
  if (has('timezone')) {
    if (zone === undefined) errors.push({ field: 'timezone', message: 'Invalid timezone.' });
    else fields.timezone = zone;
  }
  if (has('agenda')) {
    if (typeof agenda !== 'string' || agenda.length > 2000) errors.push({ field: 'agenda', message: 'Agenda must be a string of at most 2000 characters.' });
    else fields.agenda = agenda;
  }
  if (has('settings')) {
    if (!isPlainObject(settings)) errors.push({ field: 'settings', message: 'Settings must be an object.' });
    else fields.settings = settings;
  }
  return errors.length ? { errors } : { fields };
}

/** Validates a create-meeting body as Zoom does (code 300 field errors), in field order. `start_time` and `duration` are required. */
export function parseMeetingRequest(body: Record<string, unknown>, user: EmulatorUser): { request: MeetingRequest } | { errors: FieldError[] } {
  const withDefaults = { topic: 'Zoom Meeting', type: 2, timezone: user.timezone, agenda: '', settings: {}, ...body };
  const checked = validateMeetingFields(withDefaults, { required: ['start_time', 'duration'], zoneForLocalTimes: user.timezone });
  return 'errors' in checked ? checked : { request: checked.fields as MeetingRequest };
}

/**
 * Validates a `PATCH /meetings/{id}` body: any subset of the create fields,
 * each checked as on create. A `start_time` without an offset is read in the
 * body's `timezone`, else in the meeting's.
 */
export function parseMeetingUpdate(body: Record<string, unknown>, meeting: EmulatorMeeting): { update: MeetingFields } | { errors: FieldError[] } {
  const checked = validateMeetingFields(body, { required: [], zoneForLocalTimes: meeting.timezone });
  return 'errors' in checked ? checked : { update: checked.fields };
}

/** The meeting after an update: only the fields sent change; its id, links and password stay (Zoom keeps the join link). */
export function applyMeetingUpdate(meeting: EmulatorMeeting, update: MeetingFields): EmulatorMeeting {
  return {
    ...meeting,
    ...(update.topic === undefined ? {} : { topic: update.topic }),
    ...(update.startMs === undefined ? {} : { start_time: zoomTime(update.startMs) }),
    ...(update.duration === undefined ? {} : { duration: update.duration }),
    ...(update.timezone === undefined ? {} : { timezone: update.timezone }),
    ...(update.agenda === undefined ? {} : { agenda: update.agenda }),
    // Zoom merges the settings sent into the meeting's.
    ...(update.settings === undefined ? {} : { settings: { ...meeting.settings, ...update.settings } }),
  };
}

/** The meeting Zoom would store for a request, with join and start links on the emulator's own origin. */
export function buildMeeting(input: { id: number; request: MeetingRequest; host: EmulatorUser; origin: string; now: number }): EmulatorMeeting {
  const { id, request, host, origin, now } = input;
  const password = randomBytes(4).toString('hex');
  return {
    id,
    uuid: randomBytes(16).toString('base64'),
    host_id: host.id,
    host_email: host.email,
    topic: request.topic,
    type: 2,
    start_time: zoomTime(request.startMs),
    duration: request.duration,
    timezone: request.timezone,
    agenda: request.agenda,
    created_at: zoomTime(now),
    join_url: `${origin}/j/${id}?pwd=${password}`,
    start_url: `${origin}/s/${id}?zak=${randomBytes(24).toString('base64url')}`,
    password,
    settings: { join_before_host: false, waiting_room: true, ...request.settings },
  };
}

/** The fields Zoom returns per meeting in `GET /users/me/meetings`. */
export function meetingListItem(m: EmulatorMeeting) {
  const { uuid, id, host_id, topic, type, start_time, duration, timezone, agenda, created_at, join_url } = m;
  return { uuid, id, host_id, topic, type, start_time, duration, timezone, agenda, created_at, join_url };
}

/** Zoom's `next_page_token` is opaque; the emulator's names the user it was given to and where the next page starts. */
export function nextPageToken(userId: string, start: number): string {
  return Buffer.from(`${userId}:${start}`).toString('base64url');
}

/** Where the page a `next_page_token` asks for starts, or undefined when the token is not one given to this user. */
export function pageStart(token: string, userId: string): number | undefined {
  const match = /^(.+):(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString());
  return match?.[1] === userId ? Number(match[2]) : undefined;
}
