import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { dailyLimitMessage, failureResponse, nextUtcMidnight } from './faults.js';
import type { EmulatorMeeting, EmulatorState, EmulatorUser } from './state.js';

type Env = { Variables: { user: EmulatorUser } };

const zoomTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Zoom's REST API under `/v2`, as far as the project uses it. */
export function apiRoutes(state: EmulatorState, baseUrl: () => string): Hono<Env> {
  const app = new Hono<Env>();

  app.use('*', async (c, next) => {
    const failure = state.takeFailure('api');
    if (failure) return failureResponse(c, failure, state);
    // The token must be in the header; Zoom rejects one in the query string.
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer (.+)$/i.exec(header)?.[1];
    const auth = c.req.query('access_token') !== undefined ? { error: 'Invalid access token.' } : state.authenticate(bearer);
    if ('error' in auth) return c.json({ code: 124, message: auth.error }, 401);
    c.set('user', auth.user);
    await next();
  });

  app.get('/users/me', (c) => c.json(c.get('user')));

  app.post('/users/me/meetings', async (c) => {
    const user = c.get('user');
    let body: Record<string, unknown>;
    try {
      body = (await c.req.json()) as Record<string, unknown>;
    } catch {
      return c.json({ code: 300, message: 'Request Body should be a valid JSON object.' }, 400);
    }
    const errors = validateMeeting(body);
    if (errors.length) return c.json({ code: 300, message: 'Validation Failed.', errors }, 400);
    if (!state.countMeetingCreate(user.id)) {
      return c.json({ code: 429, message: dailyLimitMessage(state.settings.dailyMeetingLimit) }, 429, {
        'X-RateLimit-Type': 'Daily-limit',
        'X-RateLimit-Remaining': '0',
        'Retry-After': nextUtcMidnight(state.now()),
      });
    }
    const id = randomInt(10_000_000_000, 99_999_999_999);
    const password = randomBytes(4).toString('hex');
    const meeting: EmulatorMeeting = {
      id,
      uuid: randomUUID(),
      host_id: user.id,
      host_email: user.email,
      topic: String(body.topic ?? 'Zoom meeting'),
      type: 2,
      start_time: zoomTime(Date.parse(String(body.start_time))),
      duration: Number(body.duration),
      timezone: String(body.timezone ?? user.timezone),
      agenda: String(body.agenda ?? ''),
      created_at: zoomTime(state.now()),
      join_url: `${baseUrl()}/j/${id}?pwd=${password}`,
      start_url: `${baseUrl()}/s/${id}?zak=${randomBytes(24).toString('base64url')}`,
      password,
      settings: { join_before_host: false, waiting_room: true, ...((body.settings as Record<string, unknown>) ?? {}) },
    };
    state.meetings.set(id, { ...meeting, deleted: false });
    return c.json(meeting, 201);
  });

  app.get('/users/me/meetings', (c) => {
    const user = c.get('user');
    const pageSize = Math.min(300, Math.max(1, Number(c.req.query('page_size') ?? 30) || 30));
    const mine = [...state.meetings.values()].filter((m) => !m.deleted && m.host_id === user.id);
    return c.json({
      page_size: pageSize,
      total_records: mine.length,
      next_page_token: '',
      meetings: mine.slice(0, pageSize).map((m) => ({
        uuid: m.uuid,
        id: m.id,
        host_id: m.host_id,
        topic: m.topic,
        type: m.type,
        start_time: m.start_time,
        duration: m.duration,
        timezone: m.timezone,
        agenda: m.agenda,
        created_at: m.created_at,
        join_url: m.join_url,
      })),
    });
  });

  const findMeeting = (c: Context<Env>) => {
    const meeting = state.meetings.get(Number(c.req.param('id')));
    return meeting && !meeting.deleted && meeting.host_id === c.get('user').id ? meeting : undefined;
  };
  const noMeeting = (c: Context<Env>) => c.json({ code: 3001, message: `Meeting does not exist: ${c.req.param('id')}.` }, 404);

  app.get('/meetings/:id', (c) => {
    const meeting = findMeeting(c);
    if (!meeting) return noMeeting(c);
    const { deleted: _deleted, ...visible } = meeting;
    return c.json(visible);
  });

  app.delete('/meetings/:id', (c) => {
    const meeting = findMeeting(c);
    if (!meeting) return noMeeting(c);
    meeting.deleted = true;
    return c.body(null, 204);
  });

  app.notFound((c) => c.json({ code: 404, message: 'Not found' }, 404));
  return app;
}

function validateMeeting(body: Record<string, unknown>): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  if (body.topic !== undefined && (typeof body.topic !== 'string' || body.topic.length > 200)) errors.push({ field: 'topic', message: 'Topic must be at most 200 characters.' });
  if (body.type !== undefined && body.type !== 2) errors.push({ field: 'type', message: 'Only scheduled meetings (type 2) are supported.' });
  if (typeof body.start_time !== 'string' || Number.isNaN(Date.parse(body.start_time))) errors.push({ field: 'start_time', message: 'Invalid start_time.' });
  if (!Number.isInteger(body.duration) || (body.duration as number) <= 0) errors.push({ field: 'duration', message: 'Duration must be a positive integer.' });
  if (body.agenda !== undefined && (typeof body.agenda !== 'string' || body.agenda.length > 2000)) errors.push({ field: 'agenda', message: 'Agenda must be at most 2000 characters.' });
  return errors;
}
