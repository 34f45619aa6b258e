import { Hono, type Context } from 'hono';
import { dailyLimitHeaders, dailyLimitMessage, failureResponse } from './faults.js';
import { applyMeetingUpdate, buildMeeting, meetingListItem, nextPageToken, pageStart, parseMeetingRequest, parseMeetingUpdate, type FieldError } from './meetings.js';
import type { EmulatorState, EmulatorUser } from './state.js';

type Env = { Variables: { user: EmulatorUser } };

const MAX_PAGE_SIZE = 300;

/** Zoom's REST API (mounted under `/v2`), as far as the project uses it. */
export function apiRoutes(state: EmulatorState): Hono<Env> {
  const app = new Hono<Env>();

  app.use('*', async function zoomBearerAuth(c, next) {
    const failure = state.takeFailure('api');
    if (failure) return failureResponse(failure, state.now(), state.settings.dailyMeetingLimit);
    // The token must be in the header; Zoom refuses one in the query string.
    if (c.req.query('access_token') !== undefined) return c.json({ code: 124, message: 'Invalid access token.' }, 401);
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const auth = state.authenticate(bearer);
    if ('error' in auth) return c.json({ code: 124, message: auth.error }, 401);
    c.set('user', auth.user);
    await next();
  });

  app.get('/users/me', (c) => c.json(c.get('user')));

  const dailyLimitReached = (c: Context<Env>) =>
    c.json({ code: 429, message: dailyLimitMessage(state.settings.dailyMeetingLimit) }, 429, dailyLimitHeaders(state.now()));
  const notAnObject = (c: Context<Env>) => c.json({ code: 300, message: 'Request Body should be a valid JSON object.' }, 400);
  const validationFailed = (c: Context<Env>, errors: FieldError[]) => c.json({ code: 300, message: 'Validation Failed.', errors }, 400);
  const readObject = async (c: Context<Env>) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  };

  app.post('/users/me/meetings', async (c) => {
    const user = c.get('user');
    // Zoom's limit counts requests at its gateway, before it looks at the body.
    if (!state.countMeetingWrite(user.id)) return dailyLimitReached(c);
    const body = await readObject(c);
    if (!body) return notAnObject(c);
    const parsed = parseMeetingRequest(body, user);
    if ('errors' in parsed) return validationFailed(c, parsed.errors);
    const meeting = buildMeeting({ id: state.newMeetingId(), request: parsed.request, host: user, origin: new URL(c.req.url).origin, now: state.now() });
    state.meetings.set(meeting.id, meeting);
    return c.json(meeting, 201);
  });

  // Paged: `page_size` (default 30, at most 300) a page, and a `next_page_token` that is empty on the last one.
  // An unknown token, or another user's, is refused (code 300): the emulator's choice, as the contract says nothing of it.
  app.get('/users/me/meetings', (c) => {
    const user = c.get('user');
    const requested = Number.parseInt(c.req.query('page_size') ?? '', 10);
    const pageSize = Number.isNaN(requested) || requested < 1 ? 30 : Math.min(requested, MAX_PAGE_SIZE);
    const token = c.req.query('next_page_token') ?? '';
    const start = token === '' ? 0 : pageStart(token, user.id);
    if (start === undefined) return c.json({ code: 300, message: 'Invalid next_page_token.' }, 400);
    const now = state.now();
    // "upcoming" leaves out meetings that have already ended; "scheduled" (the default) lists them all.
    const isUpcoming = (c.req.query('type') ?? 'scheduled').startsWith('upcoming');
    const meetings = [...state.meetings.values()].filter(
      (m) => m.host_id === user.id && (!isUpcoming || Date.parse(m.start_time) + m.duration * 60_000 > now),
    );
    const end = start + pageSize;
    return c.json({
      page_size: pageSize,
      total_records: meetings.length,
      next_page_token: end < meetings.length ? nextPageToken(user.id, end) : '',
      meetings: meetings.slice(start, end).map(meetingListItem),
    });
  });

  const findMeeting = (c: Context<Env>) => {
    const meeting = state.meetings.get(Number(c.req.param('id')));
    return meeting?.host_id === c.get('user').id ? meeting : undefined;
  };
  const noSuchMeeting = (c: Context<Env>) => c.json({ code: 3001, message: `Meeting does not exist: ${c.req.param('id')}.` }, 404);

  app.get('/meetings/:id', (c) => {
    const meeting = findMeeting(c);
    return meeting ? c.json(meeting) : noSuchMeeting(c);
  });

  // Any subset of the create fields; only those sent change, and the meeting keeps its id and join link.
  // Updates count against the same daily limit as creates, at the gateway like them.
  app.patch('/meetings/:id', async (c) => {
    if (!state.countMeetingWrite(c.get('user').id)) return dailyLimitReached(c);
    const meeting = findMeeting(c);
    if (!meeting) return noSuchMeeting(c);
    const body = await readObject(c);
    if (!body) return notAnObject(c);
    const parsed = parseMeetingUpdate(body, meeting);
    if ('errors' in parsed) return validationFailed(c, parsed.errors);
    state.meetings.set(meeting.id, applyMeetingUpdate(meeting, parsed.update));
    return c.body(null, 204);
  });

  app.delete('/meetings/:id', (c) => {
    const meeting = findMeeting(c);
    if (!meeting) return noSuchMeeting(c);
    state.meetings.delete(meeting.id);
    return c.body(null, 204);
  });

  // A catch-all rather than `app.notFound`: Hono only calls the top-level app's notFound handler.
  app.all('*', (c) => c.json({ code: 404, message: 'Not found' }, 404));
  return app;
}
