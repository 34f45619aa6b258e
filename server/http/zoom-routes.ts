import { Hono } from 'hono';
import { DomainError } from '../errors.js';
import { completeZoomAuthorization, startZoomAuthorization, type AuthorizationDeps } from '../zoom/authorization.js';
import { recordDeauthorization } from '../zoom/health.js';
import { isValidZoomSignature, urlValidationAnswer } from '../zoom/webhook.js';
import { errorResponse } from './errors.js';
import { parseJsonText } from './json-body.js';
import { html, layout } from './pages/layout.js';
import { nothingToRestorePage, reauthorizedPage, reauthRefusedPage } from './pages/link-pages.js';
import { expiredFormPage } from './pages/specialist-pages.js';
import { hasValidCsrf, type SessionVariables } from './session.js';

export interface ZoomRoutesDeps extends AuthorizationDeps {
  /** Secret for `x-zm-signature`; without one the webhook endpoint answers 404. */
  zoomWebhookSecret: string | undefined;
}

/**
 * The specialist's Zoom connection over HTTP: the settings section, the OAuth
 * start (a POST with CSRF: it changes state) and callback, disconnect, and
 * Zoom's deauthorization webhook.
 */
export function zoomRoutes(deps: ZoomRoutesDeps): Hono<{ Variables: SessionVariables }> {
  const app = new Hono<{ Variables: SessionVariables }>();

  // The Zoom section lives on the settings page.
  app.get('/settings/zoom', (c) => c.redirect('/settings#zoom', 302));

  /** Connect, re-authorize or switch accounts: all start Zoom's consent flow, bound to this session. */
  app.post('/settings/zoom/connect', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/sign-in?next=%2Fsettings%23zoom', 303);
    if (!(await hasValidCsrf(c))) return c.html(expiredFormPage('/settings#zoom'), 403);
    return c.redirect(await startZoomAuthorization(deps, session.specialistId), 303);
  });

  app.post('/settings/zoom/disconnect', async (c) => {
    const session = c.get('session');
    if (!session) return c.redirect('/sign-in', 303);
    if (!(await hasValidCsrf(c))) return c.html(expiredFormPage('/settings#zoom'), 403);
    await deps.connections.disconnect(session.specialistId);
    return c.redirect('/settings?zoom=disconnected#zoom', 303);
  });

  app.get('/oauth/zoom/callback', async (c) => {
    const outcome = await completeZoomAuthorization(deps, {
      signedInSpecialistId: c.get('session')?.specialistId,
      state: c.req.query('state'),
      code: c.req.query('code'),
      error: c.req.query('error'),
    });
    switch (outcome.kind) {
      case 'connected':
        return c.redirect(`/dashboard?zoom=${outcome.wasReauthorization ? 'reauthorized' : 'connected'}`, 303);
      // From an emailed link: a page that says so, and no session (the dashboard needs a sign-in).
      case 'reauthorized_by_link':
        return c.html(reauthorizedPage(outcome.user.email));
      case 'denied':
        return outcome.byLink
          ? c.html(reauthRefusedPage('The authorization was declined on Zoom’s page. Open the link in the email again to retry.'), 400)
          : c.redirect('/settings?zoom=denied#zoom', 303);
      case 'other_zoom_account':
        return c.html(
          reauthRefusedPage(
            `You allowed the Zoom account ${outcome.offeredEmail}, but this link only restores ${outcome.connectedEmail}, the account connected before. To use another Zoom account, sign in and use Settings → Switch Zoom account.`,
          ),
          409,
        );
      case 'nothing_to_restore':
        return c.html(nothingToRestorePage(), 409);
      case 'invalid_state':
      case 'failed':
        return c.html(
          layout({
            title: 'Zoom not connected',
            flash: { kind: 'error', message: outcome.message },
            body: html`<h1>Zoom was not connected</h1><p><a class="button" href="/settings#zoom">Back to Zoom settings</a></p>`,
          }),
          400,
        );
    }
  });

  app.post('/webhooks/zoom', async (c) => {
    const secret = deps.zoomWebhookSecret;
    if (!secret) return errorResponse(c, new DomainError('not_found', 'Zoom webhooks are not configured on this server.'));
    const rawBody = await c.req.text();
    const isValid = isValidZoomSignature({
      secret,
      rawBody,
      timestamp: c.req.header('x-zm-request-timestamp'),
      signature: c.req.header('x-zm-signature'),
      now: deps.clock(),
    });
    if (!isValid) return c.json({ success: false, code: 'invalid_signature', message: 'The webhook signature is missing, wrong, or outside the 5-minute window.' }, 401);
    const event = parseJsonText(rawBody) as { event?: unknown; payload?: { plainToken?: unknown; user_id?: unknown } } | null;
    if (event?.event === 'endpoint.url_validation' && typeof event.payload?.plainToken === 'string') {
      return c.json(urlValidationAnswer(secret, event.payload.plainToken));
    }
    if (event?.event === 'app_deauthorized' && typeof event.payload?.user_id === 'string') {
      const changed = await deps.connections.markDeauthorized(event.payload.user_id);
      // As if the health check had found it: the specialist is emailed at once, then reminded (issue #17).
      await recordDeauthorization(deps, event.payload.user_id);
      deps.logger.info('zoom app deauthorized', { zoomUserId: event.payload.user_id, connectionsRevoked: changed });
    }
    return c.body(null, 204);
  });

  return app;
}
