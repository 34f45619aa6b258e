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

/** Validates a create-meeting body as Zoom does (code 300 field errors), in field order. */
export function parseMeetingRequest(body: Record<string, unknown>, user: EmulatorUser): { request: MeetingRequest } | { errors: FieldError[] } {
  const errors: FieldError[] = [];
  const { topic = 'Zoom Meeting', type = 2, start_time, duration, timezone = user.timezone, agenda = '', settings = {} } = body;
  if (typeof topic !== 'string' || topic.length > 200) errors.push({ field: 'topic', message: 'Topic must be a string of at most 200 characters.' });
  if (type !== 2) {
    const isKnown = typeof type === 'number' && KNOWN_MEETING_TYPES.has(type);
    errors.push({ field: 'type', message: isKnown ? 'The emulator only schedules meetings of type 2.' : 'Invalid field.' });
  }
  const zone = typeof timezone === 'string' && isTimeZone(timezone) ? timezone : undefined;
  const startMs = typeof start_time === 'string' ? parseStartTime(start_time, zone ?? 'UTC') : NaN;
  if (Number.isNaN(startMs)) errors.push({ field: 'start_time', message: 'Invalid start_time: use yyyy-MM-ddTHH:mm:ssZ.' });
  if (typeof duration !== 'number' || !Number.isInteger(duration) || duration <= 0) errors.push({ field: 'duration', message: 'Duration must be a positive integer (minutes).' });
  if (zone === undefined) errors.push({ field: 'timezone', message: 'Invalid timezone.' });
  if (typeof agenda !== 'string' || agenda.length > 2000) errors.push({ field: 'agenda', message: 'Agenda must be a string of at most 2000 characters.' });
  if (!isPlainObject(settings)) errors.push({ field: 'settings', message: 'Settings must be an object.' });
  if (errors.length) return { errors };
  return {
    request: {
      topic: topic as string,
      startMs,
      duration: duration as number,
      timezone: zone!,
      agenda: agenda as string,
      settings: settings as Record<string, unknown>,
    },
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
