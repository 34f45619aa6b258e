import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { findSpecialistBySlug } from '../specialists/index.js';
import { bookingPage, unknownBookingPage } from './pages/booking-page.js';

/**
 * `GET /book/{slug}`: the specialist's hosted booking page, or a 404 page.
 * Mounted on the site (`app.route('/', bookingPageRoutes(deps))`), so it
 * gets the pages' security headers: its script is this origin's widget
 * bundle, which the Content-Security-Policy allows.
 */
export function bookingPageRoutes(deps: { db: Kysely<Database> }): Hono {
  const app = new Hono();
  app.get('/book/:slug', async (c) => {
    const specialist = await findSpecialistBySlug(deps.db, c.req.param('slug'));
    return specialist ? c.html(bookingPage(specialist)) : c.html(unknownBookingPage(), 404);
  });
  return app;
}
